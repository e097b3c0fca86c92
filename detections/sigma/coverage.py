"""Mapping coverage of the m365-siem pySigma pipeline over a directory of Sigma rules.

    python detections/sigma/coverage.py <rules dir> [--pipeline detections/sigma/m365-siem.yml] [--json]

For every rule (every *.yml below the directory): does it convert with the shipped pipeline and the OpenSearch
backend; if not, why (a logsource we collect no data for, fields without a counterpart, or another error), and
which fields are missing. `npm run sigma -- coverage <dir>` runs this in the project's virtual environment.
"""

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from sigma.backends.opensearch import OpensearchLuceneBackend
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem

UNMAPPED_ITEM_ID = "m365siem_unmapped_field"


def detection_fields(detection):
    for item in detection.detection_items:
        if isinstance(item, SigmaDetectionItem):
            if item.field is not None:
                yield item.field
        elif isinstance(item, SigmaDetection):
            yield from detection_fields(item)


def unmapped_pattern(pipeline):
    """The field-name regex of the pipeline's final 'unmapped field' check."""
    for item in pipeline.items:
        if item.identifier == UNMAPPED_ITEM_ID:
            return [re.compile(p) for cond in item.field_name_conditions for p in getattr(cond, "fields", [])]
    raise SystemExit(f"pipeline has no '{UNMAPPED_ITEM_ID}' item")


def missing_fields(rule_text, lenient, patterns):
    """Fields still carrying a vendor name after the pipeline without its final check: those have no counterpart."""
    rule = SigmaCollection.from_yaml(rule_text).rules[0]
    lenient.apply(rule)
    names = set()
    for detection in rule.detection.detections.values():
        for name in detection_fields(detection):
            if any(p.match(name) for p in patterns):
                names.add(name)
    return sorted(names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules_dir", type=Path)
    parser.add_argument("--pipeline", type=Path, default=Path(__file__).with_name("m365-siem.yml"))
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if not args.rules_dir.is_dir():
        print(f"not a directory: {args.rules_dir}", file=sys.stderr)
        return 2
    pipeline_text = args.pipeline.read_text(encoding="utf-8")
    strict = ProcessingPipeline.from_yaml(pipeline_text)
    patterns = unmapped_pattern(strict)

    results = []
    for path in sorted(args.rules_dir.rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        entry = {"rule": str(path.relative_to(args.rules_dir))}
        try:
            backend = OpensearchLuceneBackend(ProcessingPipeline.from_yaml(pipeline_text))
            entry["query"] = backend.convert(SigmaCollection.from_yaml(text))[0]
            entry["outcome"] = "converted"
        except SigmaError as error:
            message = str(error)
            if "no counterpart in our documents" in message:
                lenient = ProcessingPipeline.from_yaml(pipeline_text)
                lenient.items = [i for i in lenient.items if i.identifier != UNMAPPED_ITEM_ID]
                entry["outcome"] = "unmapped_fields"
                entry["missing"] = missing_fields(text, lenient, patterns)
            elif "m365-siem collects no" in message:
                entry["outcome"] = "not_collected"
            else:
                entry["outcome"] = "error"
            entry["reason"] = message.splitlines()[0]
        results.append(entry)

    outcomes = Counter(r["outcome"] for r in results)
    missing = Counter(f for r in results for f in r.get("missing", []))
    summary = {
        "rules": len(results),
        "converted": outcomes["converted"],
        "only_mapped_fields": outcomes["converted"],
        "unmapped_fields": outcomes["unmapped_fields"],
        "not_collected_logsource": outcomes["not_collected"],
        "errors": outcomes["error"],
        "missing_fields": dict(missing.most_common()),
    }
    if args.json:
        print(json.dumps({"summary": summary, "rules": results}, indent=2))
        return 0
    print(f"{summary['rules']} rules under {args.rules_dir}")
    print(f"  convert with only mapped fields: {summary['converted']}")
    print(f"  use fields without a counterpart: {summary['unmapped_fields']}")
    print(f"  logsource not collected:          {summary['not_collected_logsource']}")
    print(f"  other conversion errors:          {summary['errors']}")
    if missing:
        print("missing fields (rules using them):")
        for name, count in missing.most_common():
            print(f"  {name}: {count}")
    for r in results:
        if r["outcome"] == "error":
            print(f"error: {r['rule']}: {r['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
