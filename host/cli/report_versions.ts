/**
 * The versions of the JSON reports (report_schemas.ts), apart from the schemas so that printing a
 * report does not load zod.
 *
 * @module
 */

/** Version of the `exec --json` report; bumped only when a field changes meaning. */
export const EXEC_REPORT_VERSION = 1;

/** Version of the `apply --json` report; bumped only when a field changes meaning. */
export const APPLY_REPORT_VERSION = 1;
