/** The version of @atmosphere/runtime. */
export const VERSION = '0.1.0';
