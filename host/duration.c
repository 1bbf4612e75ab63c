/* Lightning's Timer durations (callbacks/timer.py): "DD:HH:MM:SS" (days any number of
 * digits, the rest two each) or a datetime.timedelta's keyword arguments as a mapping,
 * "{hours: 1, minutes: 30}" (YAML flow or JSON, quotes optional). null/None: no limit. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* The longest a duration may be: timedelta's own limit is 999999999 days. */
#define DURATION_MAX_SECONDS (999999999.0 * 86400.0)

static bool two_digits(const char *p) {
    return isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]);
}

/* "DD:HH:MM:SS", surrounding blanks allowed (Python's .strip()). */
static bool parse_clock(const char *s, double *seconds) {
    while (isspace((unsigned char)*s)) s++;
    const char *p = s;
    double days = 0;
    while (isdigit((unsigned char)*p) && p - s < 10) days = days * 10 + (*p++ - '0');
    if (p == s || p[0] != ':' || !two_digits(p + 1) || p[3] != ':' || !two_digits(p + 4) ||
        p[6] != ':' || !two_digits(p + 7))
        return false;
    const char *end = p + 9;
    while (isspace((unsigned char)*end)) end++;
    if (*end) return false;
    int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0'),
        sec = (p[7] - '0') * 10 + (p[8] - '0');
    *seconds = days * 86400.0 + h * 3600.0 + m * 60.0 + sec;
    return true;
}

static const struct {
    const char *key;
    double seconds;
} units[] = {{"weeks", 604800.0}, {"days", 86400.0},      {"hours", 3600.0},     {"minutes", 60.0},
             {"seconds", 1.0},    {"milliseconds", 1e-3}, {"microseconds", 1e-6}};

static double unit_of(const char *key, size_t n) {
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strlen(units[i].key) == n && !strncmp(units[i].key, key, n)) return units[i].seconds;
    return 0;
}

static const char *skip_blank(const char *p) {
    while (isspace((unsigned char)*p)) p++;
    return p;
}

/* One "key: number" of the mapping at *p, added to *total; false with why. */
static bool parse_item(const char **p, double *total, char *why, size_t n) {
    const char *k = skip_blank(*p);
    bool quoted = *k == '"' || *k == '\'';
    k += quoted;
    size_t klen = strcspn(k, "\"': ,}");
    double unit = unit_of(k, klen);
    const char *q = skip_blank(k + klen + quoted);
    if (!unit || *q != ':') {
        snprintf(why, n,
                 "a mapping of timedelta units to numbers, as {hours: 1} ('%.*s' is not "
                 "one of weeks, days, hours, minutes, seconds, milliseconds, microseconds)",
                 (int)(klen < 40 ? klen : 40), k);
        return false;
    }
    char *end;
    double v = strtod(q + 1, &end);
    if (end == q + 1 || !isfinite(v)) {
        snprintf(why, n,
                 "a mapping of timedelta units to numbers, as {hours: 1} ('%.*s' has no "
                 "number)",
                 (int)klen, k);
        return false;
    }
    *total += v * unit;
    *p = skip_blank(end);
    return true;
}

/* "{hours: 1, minutes: 30}" */
static bool parse_mapping(const char *s, double *seconds, char *why, size_t n) {
    const char *p = skip_blank(s) + 1, *end = strrchr(s, '}');
    double total = 0;
    p = skip_blank(p);
    while (p < end) {
        if (!parse_item(&p, &total, why, n)) return false;
        if (*p == ',')
            p = skip_blank(p + 1);
        else if (p != end) {
            snprintf(why, n,
                     "a mapping such as {hours: 1, minutes: 30} (',' or '}' expected at "
                     "'%.20s')",
                     p);
            return false;
        }
    }
    if (*skip_blank(end + 1)) {
        snprintf(why, n, "a mapping such as {hours: 1, minutes: 30}, with nothing after its '}'");
        return false;
    }
    *seconds = total;
    return true;
}

bool duration_parse(const char *text, double *seconds, char *why, size_t n) {
    if (!strcmp(text, "null") || !strcmp(text, "None")) {
        *seconds = -1;
        return true;
    }
    bool mapping = *skip_blank(text) == '{' && strchr(text, '}');
    if (mapping ? !parse_mapping(text, seconds, why, n) : !parse_clock(text, seconds)) {
        if (!mapping)
            snprintf(why, n,
                     "a string in the format DD:HH:MM:SS, or a mapping such as {hours: "
                     "1, minutes: 30}");
        return false;
    }
    if (*seconds < 0 || *seconds > DURATION_MAX_SECONDS) {
        snprintf(why, n, "a duration from 0 to 999999999 days");
        return false;
    }
    return true;
}

void duration_format(double seconds, char *out, size_t n) {
    if (seconds < 0) {
        snprintf(out, n, "null");
        return;
    }
    if (seconds != floor(seconds)) {
        snprintf(out, n, "{seconds: %.17g}", seconds);
        return;
    }
    long long s = (long long)seconds;
    snprintf(out, n, "%02lld:%02lld:%02lld:%02lld", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
}
