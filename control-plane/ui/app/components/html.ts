/**
 * The UI's view library (decision 0180): Preact with htm tagged templates — components, no JSX build step, no eval
 * (htm parses the template strings itself), so the strict CSP (script-src 'self', no inline code) holds.
 */
export { html } from 'htm/preact';
export { render } from 'preact';
export { useEffect, useMemo, useRef, useState } from 'preact/hooks';
