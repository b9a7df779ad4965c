/* "Did you mean": the nearest candidate by edit distance, for errors about
 * misspelt keys and instance types. */
#ifndef NESTPLAN_SUGGEST_H
#define NESTPLAN_SUGGEST_H

/* candidates ends with NULL; NULL when nothing is close enough. */
const char *np_suggest(const char *word, const char *const *candidates);

#endif
