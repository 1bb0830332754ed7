// Small helpers for the text of config problems; a leaf module, so that any config file can use it.

/** A value as quoted in a message: a huge one is cut in the middle, so the message stays readable. */
export function abbreviate (text: string, max = 100): string {
  return text.length <= max ? text : `${text.slice(0, max - 30)}…${text.slice(-20)} (${text.length} characters)`
}
