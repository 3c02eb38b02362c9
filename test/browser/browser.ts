// The chromium helpers live with the scripts (docs:screenshots uses them too).
export { chromiumPath, launchBrowser, watchProblems, type PageProblems } from '../../scripts/lib/chromium';
