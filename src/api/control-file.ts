/** The file in a data dir naming the running node's control API (url, token, pid). */
export const CONTROL_FILE = 'control.json'
