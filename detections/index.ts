/**
 * Detection content: the shipped pySigma pipeline (detections/sigma/m365-siem.yml), our Sigma rules
 * (detections/rules/) and the Python toolchain that converts them, kept in a virtual environment of the project's
 * own (.venv-sigma/, pinned by detections/sigma/requirements.txt). See docs/detections.md.
 */
export {
  SIGMA_PIPELINE_PATH,
  SIGMA_RULES_DIR,
  SIGMA_REQUIREMENTS_PATH,
  SIGMA_INSTALL_COMMAND,
  sigmaToolchain,
  installSigmaToolchain,
  runSigmaCoverage,
  registerSigmaCommands,
} from './sigma-toolchain.ts';
export type { SigmaToolchain } from './sigma-toolchain.ts';
