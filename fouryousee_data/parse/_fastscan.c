/* A scanner for blocks of playlog NDJSON lines, and the dictionaries of one read.
 *
 * Why C: with Arrow's JSON reader the parser took 1.43 s for 1 M rows and
 * 6.75 s for 5 M on the 2-core machine (5.5x and 6.6x faster than pandas;
 * issue 2 asks for 6x and 12x). Arrow's generic tokenizer alone costs ~2 s of
 * CPU per million lines. Playlog lines are small flat objects of known keys,
 * so a scanner made for them reads a line in one pass, with the GIL released,
 * and writes the final types directly (played_at seconds, int32 ids, int32
 * dictionary codes for account/type/ip).
 *
 * It is only an accelerator: on anything it cannot vouch for completely
 * (escapes in a kept string or a key, a duplicated known key, a float or a
 * string as an id, a missing key, an impossible date or time, NaN, deep
 * nesting, a line longer than max_line, a kept value that is not UTF-8, ...)
 * the block goes to the Arrow / line-by-line path (parse/_arrow.py,
 * parse/_careful.py), which names the exact bad line. Whatever it accepts,
 * json.loads (the definition of a valid line) accepts with the same values.
 *
 * Why the dictionaries are here too (issue 15): with one IP per row (65,000
 * distinct IPs in 1 M rows) merging each block's distinct values into Python
 * dicts cost 3.4x the whole parse of a realistic file. Now Python only ever
 * sees the final dictionaries.
 *
 * scan(parts, max_line) -> Block | None          (a worker thread, GIL released)
 *   parts      a list of bytes-like: the block's text in pieces as gunzip
 *              gave them, which together are whole lines ending with '\n'.
 *              Whole lines are scanned where they are; only a line cut
 *              between two parts is copied (a "seam"), so the pieces are
 *              never joined into one block first.
 *   returns    None where it cannot vouch, else a Block: the rows' columns,
 *              with codes into the block's own small dictionaries (values
 *              pointing into the parts or the seams, which the Block keeps).
 *
 * Dictionaries()                                 (one per read, main thread only)
 *   .merge(block, start, played_at, player_id, media_id, account, type, ip)
 *       copies rows start.. of a Block into the buffers (int64, two int32s,
 *       then the three code columns of 1, 2 or 4 bytes each, all of one length),
 *       codes translated to this read's dictionaries (new values appended in
 *       order of first appearance, UTF-8 checked once, as they are added).
 *       False, with nothing added, if a new value is not UTF-8 (the block then
 *       goes to the careful path); the first call decides. ValueError if a code
 *       column is too narrow for its dictionary.
 *   .add(block) -> bool: the same first step alone (merge's values added), so
 *       that the caller can size the code columns from .sizes() first.
 *   .sizes() -> (n, n, n): the number of values of each dictionary.
 *   .lookup(column, values) -> bytes: the codes (int32) of a list of str,
 *       added if new, followed by -1 (the code of null): for a block the Arrow
 *       or careful path parsed.
 *   .values(column) -> list[str]: the dictionary, in code order.
 *   .arrow(column) -> (n, offsets, data): the same as an Arrow string array's
 *       buffers (no Python object per value).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 32 /* deeper unknown values: not vouched for */

enum { K_DATE, K_TIME, K_PLAYER, K_MEDIA, K_ACCOUNT, K_TYPE, K_IP, N_KEYS };
#define REQUIRED ((1u << K_DATE) | (1u << K_TIME) | (1u << K_PLAYER) | (1u << K_MEDIA))
#define N_DICTS 3 /* account, type, ip */

/* ------------------------------------------------------------ hash tables */

static inline uint32_t hash_bytes(const char *p, Py_ssize_t n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15u, word = 0;
    if (n >= 8) { /* 8 bytes at a time, multiplicative; the last 8 overlap */
        const char *last = p + n - 8;
        for (; p < last; p += 8) {
            memcpy(&word, p, 8);
            h = (h ^ word) * 0x9E3779B97F4A7C15u;
            h ^= h >> 32;
        }
        memcpy(&word, last, 8);
    } else {
        for (Py_ssize_t i = 0; i < n; i++)
            word |= (uint64_t)(unsigned char)p[i] << (8 * i);
    }
    h = (h ^ word) * 0x9E3779B97F4A7C15u;
    h ^= h >> 33; /* MurmurHash3's finalizer: every byte reaches the low bits (the slot) */
    h *= 0xFF51AFD7ED558CCDu;
    h ^= h >> 33;
    return (uint32_t)h;
}

/* A value: where its bytes are (a pointer into a block, or an offset into an
 * arena), its length and hash. */
typedef struct {
    const char *ptr;
    Py_ssize_t offset, len;
    uint32_t hash;
} Value;

/* Open addressing; a slot holds a value's hash (high half) and index (low
 * half), so a probe rarely touches a value that is not the one; all ones is an
 * empty slot. The bytes live in the block (ptr) or, with an arena, in the arena. */
#define EMPTY UINT32_MAX
typedef struct {
    Value *values;
    int32_t n, cap;
    uint64_t *slots;
    uint32_t mask;
    int32_t last; /* the code of the previous row (values repeat): -1 none */
    char *arena;  /* NULL: values point into the block */
    Py_ssize_t used, room;
} Dict;

/* An empty dictionary with room for `size` values (at least 64) before its
 * table grows (kept at most half full). */
static int dict_init(Dict *d, int with_arena, int32_t size) {
    memset(d, 0, sizeof(*d));
    d->cap = 64;
    while (d->cap <= size && d->cap <= INT32_MAX / 4)
        d->cap *= 2;
    d->mask = (uint32_t)d->cap * 2 - 1;
    d->last = -1;
    d->values = PyMem_RawMalloc(sizeof(Value) * d->cap);
    d->slots = PyMem_RawMalloc(sizeof(uint64_t) * (d->mask + 1));
    if (with_arena) {
        d->room = 4096;
        d->arena = PyMem_RawMalloc(d->room);
    }
    if (!d->values || !d->slots || (with_arena && !d->arena))
        return -1;
    memset(d->slots, 0xff, sizeof(uint64_t) * (d->mask + 1));
    return 0;
}

static void dict_free(Dict *d) {
    PyMem_RawFree(d->values);
    PyMem_RawFree(d->slots);
    PyMem_RawFree(d->arena);
    memset(d, 0, sizeof(*d));
}

static inline const char *value_bytes(const Dict *d, const Value *v) {
    return d->arena ? d->arena + v->offset : v->ptr;
}

/* Whether n bytes at a and b are equal (inline: values are short). Up to 16
 * bytes (an IP) with two overlapping words and no loop: a loop's exit on a
 * length that varies from value to value was a branch mispredicted per lookup.
 * Every read stays inside [a, a + n) and [b, b + n). */
static inline int same_bytes(const char *a, const char *b, Py_ssize_t n) {
    uint64_t x, y, u, v;
    if (n >= 8) {
        for (; n > 16; a += 8, b += 8, n -= 8) {
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            if (x != y)
                return 0;
        }
        memcpy(&x, a, 8); /* 8 to 16 bytes left: the first 8 and the last 8 */
        memcpy(&y, b, 8);
        memcpy(&u, a + n - 8, 8);
        memcpy(&v, b + n - 8, 8);
        return ((x ^ y) | (u ^ v)) == 0;
    }
    if (n >= 4) { /* the first 4 and the last 4 */
        uint32_t x4, y4, u4, v4;
        memcpy(&x4, a, 4);
        memcpy(&y4, b, 4);
        memcpy(&u4, a + n - 4, 4);
        memcpy(&v4, b + n - 4, 4);
        return ((x4 ^ y4) | (u4 ^ v4)) == 0;
    }
    for (; n > 0; a++, b++, n--)
        if (*a != *b)
            return 0;
    return 1;
}

static int dict_grow(Dict *d) {
    uint32_t new_mask = d->mask * 2 + 1;
    uint64_t *slots = PyMem_RawMalloc(sizeof(uint64_t) * ((size_t)new_mask + 1));
    if (!slots)
        return -1;
    memset(slots, 0xff, sizeof(uint64_t) * ((size_t)new_mask + 1));
    for (int32_t i = 0; i < d->n; i++) {
        uint32_t s = d->values[i].hash & new_mask;
        while ((uint32_t)slots[s] != EMPTY)
            s = (s + 1) & new_mask;
        slots[s] = (uint64_t)d->values[i].hash << 32 | (uint32_t)i;
    }
    PyMem_RawFree(d->slots);
    d->slots = slots;
    d->mask = new_mask;
    return 0;
}

/* The code of a value, or -1 with *slot where it would go. */
static inline int32_t dict_find(const Dict *d, const char *p, Py_ssize_t n, uint32_t h,
                                uint32_t *slot) {
    uint32_t s = h & d->mask;
    for (;;) {
        uint64_t slot_value = d->slots[s];
        uint32_t i = (uint32_t)slot_value;
        if (i == EMPTY)
            break;
        if ((uint32_t)(slot_value >> 32) == h) {
            const Value *v = &d->values[i];
            if (v->len == n && same_bytes(value_bytes(d, v), p, n))
                return (int32_t)i;
        }
        s = (s + 1) & d->mask;
    }
    *slot = s;
    return -1;
}

/* Adds a value dict_find did not find (at *slot); its code, or -2 on memory error. */
static int32_t dict_add(Dict *d, const char *p, Py_ssize_t n, uint32_t h, uint32_t slot) {
    if (d->n == INT32_MAX)
        return -2;
    if (d->n == d->cap) {
        size_t cap = d->cap < INT32_MAX / 2 ? (size_t)d->cap * 2 : INT32_MAX;
        Value *values = PyMem_RawRealloc(d->values, sizeof(Value) * cap);
        if (!values)
            return -2;
        d->values = values;
        d->cap = (int32_t)cap;
    }
    Value v = {p, 0, n, h};
    if (d->arena) {
        if (d->room - d->used < n) {
            Py_ssize_t room = d->room;
            while (room - d->used < n)
                room *= 2;
            char *arena = PyMem_RawRealloc(d->arena, room);
            if (!arena)
                return -2;
            d->arena = arena;
            d->room = room;
        }
        memcpy(d->arena + d->used, p, n);
        v.ptr = NULL;
        v.offset = d->used;
        d->used += n;
    }
    int32_t code = d->n++;
    d->values[code] = v;
    d->slots[slot] = (uint64_t)h << 32 | (uint32_t)code;
    if ((uint32_t)d->n * 2 > d->mask && dict_grow(d) < 0)
        return -2;
    return code;
}

/* The code of a value in a block's dictionary (added if new); -2 on memory error. */
static inline int32_t dict_code(Dict *d, const char *p, Py_ssize_t n) {
    if (d->last >= 0) { /* most rows repeat the previous row's account and type */
        const Value *v = &d->values[d->last];
        if (v->len == n && same_bytes(v->ptr, p, n))
            return d->last;
    }
    uint32_t h = hash_bytes(p, n), slot = 0;
    int32_t code = dict_find(d, p, n, h, &slot);
    if (code < 0)
        code = dict_add(d, p, n, h, slot);
    d->last = code;
    return code;
}

/* Strict UTF-8 as Python decodes it (no overlong forms, surrogates or > U+10FFFF). */
static int utf8_valid(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80)
                return 0;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
                return 0;
            if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F))
                return 0; /* overlong, surrogate */
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return 0;
            if ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
                return 0; /* overlong, past U+10FFFF */
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------ JSON pieces */

/* Every scan below stops at the line's '\n' (never whitespace, and never a
 * byte a token here accepts), so no loop runs past the end of the line. The
 * bound `end` passed down is the block's end: a fixed-width or word-at-a-time
 * read checks the room left before it, and where it reaches past the line's
 * end into the next line, the '\n' it meets fails its check. NULL means
 * "cannot vouch". */

static unsigned char plain_byte[256]; /* not '"', '\\' nor a control character */

static void init_tables(void) {
    for (int c = 0x20; c < 256; c++)
        plain_byte[c] = c != '"' && c != '\\';
}

static inline const char *skip_ws(const char *p) {
    if ((unsigned char)*p > ' ')
        return p; /* compact JSON: no whitespace, one comparison */
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

static inline int is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p at the opening quote; returns past the closing quote. *escaped tells
 * whether a backslash was seen (escapes are checked as json.loads does). */
static const char *skip_string(const char *p, int *escaped) {
    *escaped = 0;
    for (p++;; p++) {
        while (plain_byte[(unsigned char)*p])
            p++;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL; /* control character (or the line's end) */
        if (c == '\\') {
            *escaped = 1;
            c = (unsigned char)*++p;
            if (c == 'u') {
                if (!(is_hex(p[1]) && is_hex(p[2]) && is_hex(p[3]) && is_hex(p[4])))
                    return NULL;
                p += 4;
            } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
                return NULL;
            }
        }
    }
}

#define ONES 0x0101010101010101u
#define HIGHS 0x8080808080808080u

/* p just past an opening quote: the closing quote, or NULL at an escape or a
 * control character (a kept string with an escape is not vouched for). Eight
 * bytes at a time while they are on the line (the lowest flagged byte of the
 * classic zero-byte test is exact). */
static inline const char *plain_string_end(const char *p, const char *end) {
#if defined(__GNUC__)
    for (; end - p >= 8; p += 8) {
        uint64_t w, quote, slash, mask;
        memcpy(&w, p, 8);
        quote = w ^ (ONES * '"');
        slash = w ^ (ONES * '\\');
        mask = ((quote - ONES) & ~quote) | ((slash - ONES) & ~slash) | ((w - ONES * 0x20) & ~w);
        if (mask & HIGHS) {
            p += __builtin_ctzll(mask & HIGHS) >> 3;
            return *p == '"' ? p : NULL;
        }
    }
#endif
    while (plain_byte[(unsigned char)*p])
        p++;
    return *p == '"' ? p : NULL;
}

/* A JSON number (json.loads' grammar, no NaN/Infinity). */
static const char *skip_number(const char *p) {
    if (*p == '-')
        p++;
    const char *digits = p;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (is_digit(*p))
            p++;
    else
        return NULL;
    if (p - digits > 4000)
        return NULL; /* json.loads raises ValueError past 4300 digits (int_max_str_digits) */
    if (*p == '.' && is_digit(p[1]))
        for (p++; is_digit(*p); p++)
            ;
    if ((*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        if (*q == '+' || *q == '-')
            q++;
        if (is_digit(*q)) {
            for (; is_digit(*q); q++)
                ;
            p = q;
        }
    }
    return p;
}

static const char *skip_value(const char *p, const char *end, int depth) {
    int escaped;
    switch (*p) {
    case '"':
        return skip_string(p, &escaped);
    case 'n':
        return (end - p >= 4 && memcmp(p, "null", 4) == 0) ? p + 4 : NULL;
    case 't':
        return (end - p >= 4 && memcmp(p, "true", 4) == 0) ? p + 4 : NULL;
    case 'f':
        return (end - p >= 5 && memcmp(p, "false", 5) == 0) ? p + 5 : NULL;
    case '[':
    case '{': {
        char close = *p == '[' ? ']' : '}';
        int object = *p == '{';
        if (depth >= MAX_DEPTH)
            return NULL;
        p = skip_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (object) {
                if (*p != '"' || !(p = skip_string(p, &escaped)))
                    return NULL;
                p = skip_ws(p);
                if (*p != ':')
                    return NULL;
                p = skip_ws(p + 1);
            }
            if (!(p = skip_value(p, end, depth + 1)))
                return NULL;
            p = skip_ws(p);
            if (*p == close)
                return p + 1;
            if (*p != ',')
                return NULL;
            p = skip_ws(p + 1);
        }
    }
    default:
        return (*p == '-' || is_digit(*p)) ? skip_number(p) : NULL;
    }
}

/* A JSON integer in the int32 range. */
static inline const char *read_int32(const char *p, int32_t *out) {
    int negative = *p == '-';
    int64_t v = 0;
    if (negative)
        p++;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        int digits = 0;
        for (; is_digit(*p); p++) {
            if (++digits > 10)
                return NULL;
            v = v * 10 + (*p - '0');
        }
    } else {
        return NULL;
    }
    if (*p == '.' || *p == 'e' || *p == 'E')
        return NULL; /* a float: refused by the careful path */
    if (negative)
        v = -v;
    if (v < INT32_MIN || v > INT32_MAX)
        return NULL;
    *out = (int32_t)v;
    return p;
}

/* "NN" at p, digits only; -1 otherwise. */
static inline int digits2(const char *p) {
    return (is_digit(p[0]) && is_digit(p[1])) ? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}

/* The last date read in a block, and its days (dates repeat row after row). */
typedef struct {
    char text[10];
    int64_t days;
    int valid;
} DateCache;

/* "YYYY-MM-DD" (quoted, a real date, year 1-9999) -> days since 1970-01-01. */
static inline const char *read_date(const char *p, const char *end, int64_t *days,
                                    DateCache *cache) {
    if (end - p < 12 || p[0] != '"' || p[11] != '"')
        return NULL;
    if (cache->valid && memcmp(cache->text, p + 1, 10) == 0) {
        *days = cache->days;
        return p + 12;
    }
    if (p[5] != '-' || p[8] != '-')
        return NULL;
    int hi = digits2(p + 1), lo = digits2(p + 3), m = digits2(p + 6), d = digits2(p + 9);
    if (hi < 0 || lo < 0 || m < 1 || m > 12 || d < 1)
        return NULL;
    int y = hi * 100 + lo;
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || d > month_days[m - 1] + (m == 2 && leap))
        return NULL;
    /* days from civil (proleptic Gregorian), H. Hinnant's algorithm */
    int yy = y - (m <= 2);
    int era = yy / 400; /* yy >= 0 */
    int yoe = yy - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *days = (int64_t)era * 146097 + doe - 719468;
    memcpy(cache->text, p + 1, 10);
    cache->days = *days;
    cache->valid = 1;
    return p + 12;
}

/* "HH:MM:SS" (quoted, 00:00:00-23:59:59) -> seconds of the day. */
static inline const char *read_time(const char *p, const char *end, int64_t *seconds) {
    uint64_t w, t;
    if (end - p < 10 || p[0] != '"' || p[9] != '"')
        return NULL;
    memcpy(&w, p + 1, 8); /* "HH:MM:SS" as one little-endian word */
    if ((w & 0x0000FF0000FF0000u) != 0x00003A00003A0000u)
        return NULL;
    t = w ^ (ONES * '0'); /* digit bytes now 0-9 */
    if ((((t & 0x7F7F7F7F7F7F7F7Fu) + ONES * 0x76) | t) & 0x8080008080008080u)
        return NULL; /* a byte at a digit's place above 9 */
#define BYTE(k) ((int)(t >> (8 * (k)) & 0xFF))
    int h = BYTE(0) * 10 + BYTE(1), m = BYTE(3) * 10 + BYTE(4), s = BYTE(6) * 10 + BYTE(7);
#undef BYTE
    if (h > 23 || m > 59 || s > 59)
        return NULL;
    *seconds = h * 3600 + m * 60 + s;
    return p + 10;
}

static int key_id(const char *k, Py_ssize_t n) {
    switch (n) {
    case 2:
        return memcmp(k, "ip", 2) == 0 ? K_IP : -1;
    case 4:
        if (memcmp(k, "date", 4) == 0)
            return K_DATE;
        if (memcmp(k, "time", 4) == 0)
            return K_TIME;
        return memcmp(k, "type", 4) == 0 ? K_TYPE : -1;
    case 7:
        if (memcmp(k, "mediaId", 7) == 0)
            return K_MEDIA;
        return memcmp(k, "account", 7) == 0 ? K_ACCOUNT : -1;
    case 8:
        return memcmp(k, "playerId", 8) == 0 ? K_PLAYER : -1;
    default:
        return -1;
    }
}

/* p at a key's opening quote, with at least 10 bytes on the line: a known key
 * read in place (its name and closing quote: exactly that key), its id and
 * where it ends in *after; -1 when it is not one spelled plainly. */
static inline int known_key(const char *p, const char **after) {
    switch (p[1]) {
    case 'd':
        if (memcmp(p + 2, "ate\"", 4) == 0)
            return *after = p + 6, K_DATE;
        break;
    case 't':
        if (memcmp(p + 2, "ime\"", 4) == 0)
            return *after = p + 6, K_TIME;
        if (memcmp(p + 2, "ype\"", 4) == 0)
            return *after = p + 6, K_TYPE;
        break;
    case 'p':
        if (memcmp(p + 2, "layerId\"", 8) == 0)
            return *after = p + 10, K_PLAYER;
        break;
    case 'm':
        if (memcmp(p + 2, "ediaId\"", 7) == 0)
            return *after = p + 9, K_MEDIA;
        break;
    case 'a':
        if (memcmp(p + 2, "ccount\"", 7) == 0)
            return *after = p + 9, K_ACCOUNT;
        break;
    case 'i':
        if (p[2] == 'p' && p[3] == '"')
            return *after = p + 4, K_IP;
        break;
    }
    return -1;
}

/* ------------------------------------------------------------ one line */

typedef struct {
    int64_t *played_at;
    int32_t *player_id, *media_id, *codes[N_DICTS];
    Dict dicts[N_DICTS];
    DateCache date;
} Out;

/* The line at p (not blank), up to the block's end: 1: a row was written at
 * index row, *line_end is the line's '\n'; 0: cannot vouch; -1: memory error. */
static int scan_line(const char *p, const char *end, Out *out, Py_ssize_t row,
                     const char **line_end) {
    unsigned seen = 0;
    int64_t days = 0, seconds = 0;
    int32_t player = 0, media = 0, codes[N_DICTS] = {-1, -1, -1};
    int escaped;

    if (*p != '{')
        return 0;
    p = skip_ws(p + 1);
    for (;;) {
        if (*p != '"')
            return 0;
        const char *after;
        int id = end - p >= 10 ? known_key(p, &after) : -1;
        if (id < 0) {
            const char *key = p + 1;
            if (!(after = skip_string(p, &escaped)) || escaped)
                return 0; /* "\u0064ate" is "date" to json.loads */
            id = key_id(key, after - 1 - key);
        }
        p = *after == ':' ? after : skip_ws(after);
        if (*p != ':')
            return 0;
        p = skip_ws(p + 1);
        if (id >= 0) {
            if (seen & (1u << id))
                return 0; /* a duplicated key */
            seen |= 1u << id;
        }
        switch (id) {
        case K_DATE:
            p = read_date(p, end, &days, &out->date);
            break;
        case K_TIME:
            p = read_time(p, end, &seconds);
            break;
        case K_PLAYER:
            p = read_int32(p, &player);
            break;
        case K_MEDIA:
            p = read_int32(p, &media);
            break;
        case K_ACCOUNT:
        case K_TYPE:
        case K_IP:
            if (*p == '"') {
                Dict *d = &out->dicts[id - K_ACCOUNT];
                const char *value = p + 1;
                const Value *last = d->last >= 0 ? &d->values[d->last] : NULL;
                if (last && end - value > last->len && value[last->len] == '"' &&
                    same_bytes(last->ptr, value, last->len)) {
                    codes[id - K_ACCOUNT] = d->last; /* the previous row's value again */
                    p = value + last->len + 1;
                    break;
                }
                if (!(p = plain_string_end(value, end)))
                    return 0; /* an escape, a control character */
                int32_t code = dict_code(d, value, p - value);
                if (code == -2)
                    return -1;
                codes[id - K_ACCOUNT] = code;
                p++;
            } else {
                p = (end - p >= 4 && memcmp(p, "null", 4) == 0) ? p + 4 : NULL;
            }
            break;
        default:
            p = skip_value(p, end, 1);
        }
        if (!p)
            return 0;
        p = skip_ws(p);
        if (*p == '}')
            break;
        if (*p != ',')
            return 0;
        p = skip_ws(p + 1);
    }
    p = skip_ws(p + 1);
    if (*p != '\n' || (seen & REQUIRED) != REQUIRED)
        return 0; /* something after the object, or a required key missing */
    *line_end = p;
    out->played_at[row] = days * 86400 + seconds;
    out->player_id[row] = player;
    out->media_id[row] = media;
    for (int i = 0; i < N_DICTS; i++)
        out->codes[i][row] = codes[i];
    return 1;
}

/* ------------------------------------------------------------ Block */

typedef struct {
    PyObject_HEAD
    Py_buffer *parts; /* the block's text: the values of dicts point into it */
    Py_ssize_t n_parts;
    char **seams; /* lines cut between parts, copied whole (values point there too) */
    Py_ssize_t n_seams;
    Py_ssize_t n_lines, n_rows;
    void *columns; /* one allocation: played_at, then the int32 columns */
    Out out;
    int32_t *remap[N_DICTS]; /* this read's code of each block code (Dictionaries.merge) */
    uint64_t owner;          /* the serial of the Dictionaries the remap is for; 0: none */
} BlockObject;

static void block_dealloc(BlockObject *self) {
    for (int i = 0; i < N_DICTS; i++) {
        dict_free(&self->out.dicts[i]);
        PyMem_RawFree(self->remap[i]);
    }
    PyMem_RawFree(self->columns);
    for (Py_ssize_t i = 0; i < self->n_seams; i++)
        PyMem_RawFree(self->seams[i]);
    PyMem_RawFree(self->seams);
    for (Py_ssize_t i = 0; i < self->n_parts; i++)
        PyBuffer_Release(&self->parts[i]);
    PyMem_RawFree(self->parts);
    PyObject_Free(self);
}

static PyObject *block_n_lines(BlockObject *self, void *closure) {
    return PyLong_FromSsize_t(self->n_lines);
}

static PyObject *block_n_rows(BlockObject *self, void *closure) {
    return PyLong_FromSsize_t(self->n_rows);
}

static PyGetSetDef block_getset[] = {
    {"n_lines", (getter)block_n_lines, NULL, "lines in the block (blank ones too)", NULL},
    {"n_rows", (getter)block_n_rows, NULL, "rows (non-blank lines)", NULL},
    {NULL},
};

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fouryousee_data.parse._fastscan.Block",
    .tp_basicsize = sizeof(BlockObject),
    .tp_dealloc = (destructor)block_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One scanned block: its rows, codes into its own dictionaries.",
    .tp_getset = block_getset,
};

/* The lines of [line, stop) (stop just past a '\n') into out from row *n_rows:
 * 1, 0: cannot vouch, -1: memory error. */
static int scan_lines(const char *line, const char *stop, Out *out, Py_ssize_t capacity,
                      Py_ssize_t max_line, Py_ssize_t *n_lines, Py_ssize_t *n_rows) {
    int status = 1;
    while (line < stop && status == 1) {
        const char *end = skip_ws(line); /* stops at the '\n' the region ends with, at the latest */
        ++*n_lines;
        if (*end != '\n') {
            if (*n_rows >= capacity)
                status = 0;
            else if ((status = scan_line(end, stop, out, *n_rows, &end)) == 1)
                ++*n_rows;
        }
        if (status == 1 && end - line > max_line)
            status = 0;
        line = end + 1;
    }
    return status;
}

/* A piece of a line not finished in its part. */
typedef struct {
    const char *p;
    Py_ssize_t len;
} Fragment;

/* The lines of the parts, in order: whole lines in place, a line cut between
 * parts copied whole first (a seam). 1, 0: cannot vouch, -1: memory error. */
static int scan_parts(BlockObject *self, Py_ssize_t capacity, Py_ssize_t max_line,
                      Fragment *open) {
    Out *out = &self->out;
    Py_ssize_t n_open = 0, open_len = 0; /* the unfinished line so far */
    int status = 1;
    for (Py_ssize_t i = 0; i < self->n_parts && status == 1; i++) {
        const char *start = self->parts[i].buf, *stop = start + self->parts[i].len;
        if (start == stop)
            continue;
        const char *first = memchr(start, '\n', stop - start);
        if (!first) { /* the whole part is inside one line */
            open[n_open++] = (Fragment){start, stop - start};
            open_len += stop - start;
            continue;
        }
        if (n_open) { /* the seam: the unfinished line, finished by this part */
            Py_ssize_t len = open_len + (first + 1 - start), at = 0;
            char *seam = PyMem_RawMalloc(len);
            if (!seam)
                return -1;
            self->seams[self->n_seams++] = seam;
            for (Py_ssize_t k = 0; k < n_open; at += open[k].len, k++)
                memcpy(seam + at, open[k].p, open[k].len);
            memcpy(seam + at, start, first + 1 - start);
            status = scan_lines(seam, seam + len, out, capacity, max_line, &self->n_lines,
                                &self->n_rows);
            n_open = open_len = 0;
            start = first + 1;
        }
        const char *last = stop; /* just past the part's last '\n' */
        while (last[-1] != '\n')
            last--;
        if (status == 1 && start < last)
            status = scan_lines(start, last, out, capacity, max_line, &self->n_lines,
                                &self->n_rows);
        if (last < stop) {
            open[n_open++] = (Fragment){last, stop - last};
            open_len += stop - last;
        }
    }
    return status;
}

/* The sizes of the last scanned block's dictionaries: the next block's start
 * there (a block of one IP per row would otherwise regrow its table ~7 times).
 * Only a size: codes do not depend on it. Guarded by the GIL. */
static int32_t block_dict_size[N_DICTS];

static PyObject *scan(PyObject *module, PyObject *args) {
    PyObject *list;
    Py_ssize_t max_line, length = 0;
    int status;

    if (!PyArg_ParseTuple(args, "O!n:scan", &PyList_Type, &list, &max_line))
        return NULL;
    BlockObject *self = PyObject_New(BlockObject, &BlockType);
    if (!self)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(list);
    self->n_parts = self->n_seams = 0;
    self->parts = PyMem_RawMalloc(sizeof(Py_buffer) * (n ? n : 1));
    self->seams = PyMem_RawMalloc(sizeof(char *) * (n ? n : 1));
    Fragment *open = PyMem_RawMalloc(sizeof(Fragment) * (n ? n : 1));
    self->columns = NULL;
    self->n_lines = self->n_rows = 0;
    memset(&self->out, 0, sizeof(self->out));
    memset(self->remap, 0, sizeof(self->remap));
    self->owner = 0;
    if (!self->parts || !self->seams || !open) {
        PyMem_RawFree(open);
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    const char *last_byte = NULL;
    for (; self->n_parts < n; self->n_parts++) {
        Py_buffer *view = &self->parts[self->n_parts];
        if (PyObject_GetBuffer(PyList_GET_ITEM(list, self->n_parts), view, PyBUF_SIMPLE) < 0) {
            PyMem_RawFree(open);
            Py_DECREF(self);
            return NULL;
        }
        length += view->len;
        if (view->len)
            last_byte = (const char *)view->buf + view->len - 1;
    }
    if (!last_byte || *last_byte != '\n') {
        PyMem_RawFree(open);
        Py_DECREF(self);
        PyErr_SetString(PyExc_ValueError, "block must end with a newline");
        return NULL;
    }
    Py_ssize_t capacity = length / 64; /* a valid line has at least 65 bytes */
    self->columns = PyMem_RawMalloc((size_t)(capacity ? capacity : 1) * (8 + 4 * 5));
    int ok = self->columns != NULL;
    for (int i = 0; i < N_DICTS; i++) /* sized like the previous block's (no regrowing) */
        ok = ok && dict_init(&self->out.dicts[i], 0,
                             (int32_t)(block_dict_size[i] < capacity ? block_dict_size[i]
                                                                     : capacity)) == 0;
    if (!ok) {
        PyMem_RawFree(open);
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    Out *out = &self->out;
    out->played_at = self->columns;
    out->player_id = (int32_t *)(out->played_at + capacity);
    out->media_id = out->player_id + capacity;
    for (int i = 0; i < N_DICTS; i++)
        out->codes[i] = out->media_id + capacity * (i + 1);

    Py_BEGIN_ALLOW_THREADS
    status = scan_parts(self, capacity, max_line, open);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(open);
    if (status == 1) {
        for (int i = 0; i < N_DICTS; i++)
            block_dict_size[i] = self->out.dicts[i].n;
        return (PyObject *)self;
    }
    Py_DECREF(self);
    return status < 0 ? PyErr_NoMemory() : Py_NewRef(Py_None);
}

/* ------------------------------------------------------------ Dictionaries */

typedef struct {
    PyObject_HEAD
    Dict dicts[N_DICTS];
    uint64_t serial; /* which Dictionaries a Block was merged into (1, 2, ...) */
} DictsObject;

static uint64_t last_serial; /* guarded by the GIL */

static PyObject *dicts_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (PyTuple_GET_SIZE(args) || (kwargs && PyDict_GET_SIZE(kwargs))) {
        PyErr_SetString(PyExc_TypeError, "Dictionaries() takes no arguments");
        return NULL;
    }
    DictsObject *self = (DictsObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->serial = ++last_serial;
    for (int i = 0; i < N_DICTS; i++)
        if (dict_init(&self->dicts[i], 1, 0) < 0) {
            Py_DECREF(self);
            return PyErr_NoMemory();
        }
    return (PyObject *)self;
}

static void dicts_dealloc(DictsObject *self) {
    for (int i = 0; i < N_DICTS; i++)
        dict_free(&self->dicts[i]);
    Py_TYPE(self)->tp_free(self);
}

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/* Looking a block's values up in a large dictionary (one IP per row: 65,000
 * values) misses the cache three times in a row: the slot, the Value, the
 * arena's bytes. So what the lookup of value i + k * STEP will read is fetched
 * k steps ahead, one link of that chain per step (prefetches only: nothing
 * read here decides anything, and every address is inside the tables). In the
 * loop itself: GCC 12 drops a call to a static function that only prefetches. */
#define STEP 8

/* The read's code of each of a block's values, new values added; 0: one is not
 * UTF-8 (nothing added), -1: memory error (exception set). */
static int remap_block(DictsObject *self, BlockObject *block) {
    for (int c = 0; c < N_DICTS; c++) { /* first check every new value, add nothing */
        Dict *local = &block->out.dicts[c];
        block->remap[c] = PyMem_RawMalloc(sizeof(int32_t) * (local->n + 1));
        if (!block->remap[c]) {
            PyErr_NoMemory();
            return -1;
        }
        for (int32_t i = 0; i < local->n; i++) {
            const Value *v = &local->values[i];
            const Dict *d = &self->dicts[c];
            if (i + 3 * STEP < local->n) { /* the slot, and the block's bytes to compare */
                PREFETCH(&d->slots[v[3 * STEP].hash & d->mask]);
                PREFETCH(v[3 * STEP].ptr);
            }
            if (i + 2 * STEP < local->n) { /* then the Value the slot names, then its bytes */
                uint64_t slot_value = d->slots[v[2 * STEP].hash & d->mask];
                uint32_t k = (uint32_t)slot_value; /* no branch: one here was mispredicted */
                PREFETCH(&d->values[k != EMPTY ? k : 0]);
                slot_value = d->slots[v[STEP].hash & d->mask];
                k = (uint32_t)slot_value;
                PREFETCH(value_bytes(d, &d->values[k != EMPTY ? k : 0]));
            }
            uint32_t slot = 0;
            int32_t code = dict_find(&self->dicts[c], v->ptr, v->len, v->hash, &slot);
            if (code < 0 && !utf8_valid((const unsigned char *)v->ptr, v->len))
                return 0;
            block->remap[c][i] = code;
        }
    }
    for (int c = 0; c < N_DICTS; c++) { /* then add them, in order of first appearance */
        Dict *local = &block->out.dicts[c], *d = &self->dicts[c];
        for (int32_t i = 0; i < local->n; i++) {
            const Value *v = &local->values[i];
            uint32_t slot = 0;
            if (block->remap[c][i] >= 0 || dict_find(d, v->ptr, v->len, v->hash, &slot) >= 0)
                continue;
            if ((block->remap[c][i] = dict_add(d, v->ptr, v->len, v->hash, slot)) < 0) {
                PyErr_NoMemory();
                return -1;
            }
        }
    }
    return 1;
}

/* A writable output column; itemsize 0: a code column of 1, 2 or 4 bytes. */
static int get_column(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize) {
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (itemsize ? view->itemsize != itemsize
                 : view->itemsize != 1 && view->itemsize != 2 && view->itemsize != 4) {
        PyErr_SetString(PyExc_ValueError, "an output buffer has the wrong item size");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* The block's values added to this read's dictionaries (once): 1, 0 if a new
 * value is not UTF-8 (nothing added), -1 on error (exception set). */
static int add_block(DictsObject *self, BlockObject *block) {
    if (block->owner == self->serial)
        return 1;
    if (block->owner) {
        PyErr_SetString(PyExc_ValueError, "the block was merged into another read's dictionaries");
        return -1;
    }
    int status = remap_block(self, block);
    if (status <= 0) {
        for (int c = 0; c < N_DICTS; c++) {
            PyMem_RawFree(block->remap[c]);
            block->remap[c] = NULL;
        }
        return status;
    }
    block->owner = self->serial;
    return 1;
}

static PyObject *dicts_add(DictsObject *self, PyObject *args) {
    BlockObject *block;
    if (!PyArg_ParseTuple(args, "O!:add", &BlockType, &block))
        return NULL;
    int status = add_block(self, block);
    return status < 0 ? NULL : PyBool_FromLong(status);
}

static PyObject *dicts_sizes(DictsObject *self, PyObject *unused) {
    return Py_BuildValue("iii", self->dicts[0].n, self->dicts[1].n, self->dicts[2].n);
}

/* Codes translated by remap (block code -> read code), -1 kept, as T. */
#define REMAP_CODES(T)                                                                             \
    do {                                                                                           \
        T *to = view->buf;                                                                         \
        for (Py_ssize_t r = 0; r < n; r++)                                                         \
            to[r] = (T)(codes[r] < 0 ? -1 : remap[codes[r]]);                                      \
    } while (0)

static void write_codes(const Py_buffer *view, const int32_t *codes, const int32_t *remap,
                        Py_ssize_t n) {
    if (view->itemsize == 1)
        REMAP_CODES(int8_t);
    else if (view->itemsize == 2)
        REMAP_CODES(int16_t);
    else
        REMAP_CODES(int32_t);
}

static PyObject *dicts_merge(DictsObject *self, PyObject *args) {
    BlockObject *block;
    Py_ssize_t start;
    PyObject *objs[6];
    Py_buffer views[6];
    int n_views = 0;
    PyObject *result = NULL;

    if (!PyArg_ParseTuple(args, "O!nOOOOOO:merge", &BlockType, &block, &start, &objs[0], &objs[1],
                          &objs[2], &objs[3], &objs[4], &objs[5]))
        return NULL;
    for (; n_views < 6; n_views++)
        if (get_column(objs[n_views], &views[n_views], n_views == 0 ? 8 : n_views < 3 ? 4 : 0) < 0)
            goto done;
    Py_ssize_t n = views[0].len / 8;
    for (int i = 1; i < 6; i++)
        if (views[i].len / views[i].itemsize != n) {
            PyErr_SetString(PyExc_ValueError, "the output buffers differ in length");
            goto done;
        }
    if (start < 0 || start > block->n_rows || n > block->n_rows - start) {
        PyErr_SetString(PyExc_ValueError, "rows out of the block's range");
        goto done;
    }
    int status = add_block(self, block);
    if (status <= 0) {
        if (status == 0)
            result = Py_NewRef(Py_False);
        goto done;
    }
    for (int c = 0; c < N_DICTS; c++) /* every code, -1 included, fits the column */
        if (self->dicts[c].n - 1 > (int32_t)((1ull << (8 * views[3 + c].itemsize - 1)) - 1)) {
            PyErr_SetString(PyExc_ValueError, "a code column is too narrow for its dictionary");
            goto done;
        }
    const Out *in = &block->out;
    Py_BEGIN_ALLOW_THREADS
    memcpy(views[0].buf, in->played_at + start, n * 8);
    memcpy(views[1].buf, in->player_id + start, n * 4);
    memcpy(views[2].buf, in->media_id + start, n * 4);
    for (int c = 0; c < N_DICTS; c++)
        write_codes(&views[3 + c], in->codes[c] + start, block->remap[c], n);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_True);
done:
    for (int i = 0; i < n_views; i++)
        PyBuffer_Release(&views[i]);
    return result;
}

static int column_index(int column) {
    if (column < 0 || column >= N_DICTS) {
        PyErr_SetString(PyExc_IndexError, "column must be 0 (account), 1 (type) or 2 (ip)");
        return -1;
    }
    return column;
}

static PyObject *dicts_lookup(DictsObject *self, PyObject *args) {
    int column;
    PyObject *values;
    if (!PyArg_ParseTuple(args, "iO!:lookup", &column, &PyList_Type, &values) ||
        column_index(column) < 0)
        return NULL;
    Dict *d = &self->dicts[column];
    Py_ssize_t n = PyList_GET_SIZE(values);
    PyObject *result = PyBytes_FromStringAndSize(NULL, (n + 1) * 4);
    if (!result)
        return NULL;
    int32_t *codes = (int32_t *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = PyList_GET_ITEM(values, i);
        Py_ssize_t len;
        const char *p = PyUnicode_Check(value) ? PyUnicode_AsUTF8AndSize(value, &len) : NULL;
        if (!p) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "values must be str");
            Py_DECREF(result);
            return NULL;
        }
        uint32_t h = hash_bytes(p, len), slot = 0;
        int32_t code = dict_find(d, p, len, h, &slot);
        if (code < 0 && (code = dict_add(d, p, len, h, slot)) < 0) {
            Py_DECREF(result);
            return PyErr_NoMemory();
        }
        codes[i] = code;
    }
    codes[n] = -1;
    return result;
}

static PyObject *dicts_values(DictsObject *self, PyObject *args) {
    int column;
    if (!PyArg_ParseTuple(args, "i:values", &column) || column_index(column) < 0)
        return NULL;
    Dict *d = &self->dicts[column];
    PyObject *list = PyList_New(d->n);
    for (int32_t i = 0; list && i < d->n; i++) {
        const Value *v = &d->values[i];
        PyObject *s = PyUnicode_DecodeUTF8(value_bytes(d, v), v->len, "strict");
        if (!s) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, s);
    }
    return list;
}

/* (n, offsets, data): the dictionary as an Arrow string array's buffers (int32
 * offsets, the bytes): the values were added one after the other to the arena. */
static PyObject *dicts_arrow(DictsObject *self, PyObject *args) {
    int column;
    if (!PyArg_ParseTuple(args, "i:arrow", &column) || column_index(column) < 0)
        return NULL;
    Dict *d = &self->dicts[column];
    if (d->used > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a dictionary over 2 GiB");
        return NULL;
    }
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, ((Py_ssize_t)d->n + 1) * 4);
    if (!offsets)
        return NULL;
    int32_t *o = (int32_t *)PyBytes_AS_STRING(offsets);
    for (int32_t i = 0; i < d->n; i++)
        o[i] = (int32_t)d->values[i].offset;
    o[d->n] = (int32_t)d->used;
    PyObject *data = PyBytes_FromStringAndSize(d->arena, d->used);
    if (!data) {
        Py_DECREF(offsets);
        return NULL;
    }
    return Py_BuildValue("nNN", (Py_ssize_t)d->n, offsets, data);
}

static PyMethodDef dicts_methods[] = {
    {"arrow", (PyCFunction)dicts_arrow, METH_VARARGS, "arrow(column) -> (n, offsets, data)"},
    {"merge", (PyCFunction)dicts_merge, METH_VARARGS,
     "merge(block, start, played_at, player_id, media_id, account, type, ip) -> bool"},
    {"lookup", (PyCFunction)dicts_lookup, METH_VARARGS, "lookup(column, values) -> bytes"},
    {"add", (PyCFunction)dicts_add, METH_VARARGS,
     "add(block) -> bool: the block's values added (once); False if a new one is not UTF-8"},
    {"sizes", (PyCFunction)dicts_sizes, METH_NOARGS, "sizes() -> (n, n, n): values per column"},
    {"values", (PyCFunction)dicts_values, METH_VARARGS, "values(column) -> list[str]"},
    {NULL},
};

static PyTypeObject DictsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fouryousee_data.parse._fastscan.Dictionaries",
    .tp_basicsize = sizeof(DictsObject),
    .tp_dealloc = (destructor)dicts_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The dictionaries of account, type and ip for one read.",
    .tp_methods = dicts_methods,
    .tp_new = dicts_new,
};

/* ------------------------------------------------------------ the module */

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(parts, max_line) -> Block | None\n\n"
     "Scan a block of playlog lines given as a list of parts; None if it cannot vouch "
     "for every line."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "fouryousee_data.parse._fastscan",
    "A scanner of playlog NDJSON blocks (see parse/_fast.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__fastscan(void) {
    init_tables();
    if (PyType_Ready(&BlockType) < 0 || PyType_Ready(&DictsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    /* 3: scan(parts); Dictionaries.add/sizes, merge into code columns of 1, 2 or 4 bytes;
     * 2: scan() returns a Block, merged by Dictionaries (1 returned per-block values) */
    if (PyModule_AddIntConstant(m, "VERSION", 3) < 0 ||
        PyModule_AddObjectRef(m, "Block", (PyObject *)&BlockType) < 0 ||
        PyModule_AddObjectRef(m, "Dictionaries", (PyObject *)&DictsType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
