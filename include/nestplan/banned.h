/* Functions that invite overflows: a use fails to compile. The Makefile
 * puts this before every file of src/ (-include), so the headers that
 * declare them come first here and are not read again after the macros. */
#ifndef NESTPLAN_BANNED_H
#define NESTPLAN_BANNED_H

#include <stdio.h>
#include <string.h>

#define NP_BANNED(func) sorry_##func##_is_banned_in_nestplan
#undef strcpy
#define strcpy(x, y) NP_BANNED(strcpy)
#undef strcat
#define strcat(x, y) NP_BANNED(strcat)
#undef sprintf
#define sprintf(...) NP_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) NP_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) NP_BANNED(strtok)
#undef gets
#define gets(x) NP_BANNED(gets)

#endif
