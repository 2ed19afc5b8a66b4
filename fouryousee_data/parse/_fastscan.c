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
 * sees the final dictionaries, and the scanner threads look values up in the
 * read's dictionaries themselves (see Shared), so that the main thread adds
 * only the values new to the read.
 *
 * scan(parts, max_line, dictionaries=None) -> Block | None
 *                                                (a worker thread, GIL released)
 *   parts      a list of bytes-like: the block's text in pieces as gunzip
 *              gave them, which together are whole lines ending with '\n'.
 *              Whole lines are scanned where they are; only a line cut
 *              between two parts is copied (a "seam"), so the pieces are
 *              never joined into one block first.
 *   dictionaries  the read's (the main thread may merge other blocks into
 *              them meanwhile): values they hold get their codes there; the
 *              Block must then be merged into them. None: every value goes to
 *              the block's own dictionaries.
 *   returns    None where it cannot vouch, else a Block: the rows' columns,
 *              with codes of the read's dictionaries or of the block's own
 *              small ones (values pointing into the parts or the seams, which
 *              the Block keeps); .n_lines, .n_rows, and .n_fast: the rows a
 *              SIMD path read (for tests).
 *
 * simd([level]) -> str                           (GIL held)
 *   the SIMD level scan uses ("avx512", "avx2" or "none": the portable path),
 *   set first when given; at import the best the CPU runs (see fast_line).
 *
 * Dictionaries()                                 (one per read, main thread only)
 *   .merge(block, start, played_at, player_id, media_id, account, type, ip)
 *       copies rows start.. of a Block into the buffers (int64, two int32s,
 *       then the three code columns of 1, 2 or 4 bytes each, all of one length),
 *       codes translated to this read's dictionaries (new values appended in
 *       order of first appearance, UTF-8 checked once, as they are added).
 *       False, with nothing added, if a new value is not UTF-8 (the block then
 *       goes to the careful path); the first call decides. ValueError if a code
 *       column is too narrow for its dictionary, or the block was scanned
 *       against other dictionaries.
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
#if defined(__linux__)
#include <stdlib.h>
#include <sys/mman.h>
#define HUGE_PAGE ((size_t)2 << 20)
#endif

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SIMD 1 /* runtime dispatch: AVX-512 (VBMI2, GFNI) or AVX2 where the CPU has them */
#include <immintrin.h>
#endif

#define MAX_DEPTH 32 /* deeper unknown values: not vouched for */

enum { K_DATE, K_TIME, K_PLAYER, K_MEDIA, K_ACCOUNT, K_TYPE, K_IP, N_KEYS };
#define REQUIRED ((1u << K_DATE) | (1u << K_TIME) | (1u << K_PLAYER) | (1u << K_MEDIA))
#define N_DICTS 3 /* account, type, ip */

/* ------------------------------------------------------------ hash tables */

/* Atomic loads and stores for the read's tables, which the scanner threads read
 * while the main thread adds to them (GCC and Clang builtins; without them the
 * scanner keeps every value in its block's own table: SHARED is 0). */
#if defined(__GNUC__) || defined(__clang__)
#define SHARED 1
#define LOAD_ACQUIRE(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define STORE_RELEASE(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)
#else
#define SHARED 0
#define LOAD_ACQUIRE(p) (*(p))
#define STORE_RELEASE(p, v) (*(p) = (v))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
/* Inlined even into the SIMD paths (compiled for AVX2 / AVX-512): a call from there
 * to a function compiled for plain x86-64 ran its SSE code with the vector
 * registers' upper halves in use, ~3x slower per value looked up (measured). */
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define PREFETCH(p) ((void)(p))
#define ALWAYS_INLINE inline
#endif

#define MIX 0x9E3779B97F4A7C15u

/* MurmurHash3's finalizer: every input bit reaches the low bits (the slot) and
 * the high ones (the tag). */
static ALWAYS_INLINE uint64_t finish_hash(uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDu;
    return h ^ h >> 33;
}

/* A value of up to 15 bytes as two words: its bytes zero-padded, its length in
 * the last byte (so "a" and "a\0" differ); a longer one as its length and where
 * its bytes are. Equal short keys: equal values. */
typedef struct {
    uint64_t a, b;
} Key;

#define SHORT 15 /* the longest value a Key holds itself */

static ALWAYS_INLINE Key key_of(const char *p, Py_ssize_t n) {
    Key k = {0, 0};
    if (n > SHORT) {
        k.a = (uint64_t)n;
        k.b = (uint64_t)(uintptr_t)p;
        return k;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* overlapping loads inside [p, p + n), shifted so that byte i lands at bit 8 * i */
    if (n >= 8) {
        memcpy(&k.a, p, 8);
        if (n > 8) {
            memcpy(&k.b, p + n - 8, 8);
            k.b >>= 8 * (16 - n);
        }
    } else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        k.a = lo | ((uint64_t)hi >> (8 * (8 - n))) << 32;
    } else {
        for (Py_ssize_t i = 0; i < n; i++)
            k.a |= (uint64_t)(unsigned char)p[i] << (8 * i);
    }
    k.b |= (uint64_t)n << 56;
#else
    memcpy(&k, p, (size_t)n);
    ((unsigned char *)&k)[15] = (unsigned char)n;
#endif
    return k;
}

/* The hash of a value (k its key_of): from the key up to SHORT bytes (its
 * length is in it), else 8 bytes at a time, multiplicative (the last 8 overlap). */
static ALWAYS_INLINE uint64_t hash_of(const char *p, Py_ssize_t n, Key k) {
#if defined(FASTSCAN_COLLIDE) /* a test build: every value in one slot, one tag */
    (void)p, (void)n, (void)k;
    return 0;
#endif
    uint64_t h;
    if (n <= SHORT) {
        h = (k.a ^ MIX) * MIX;
        h ^= h >> 32;
        return finish_hash((h ^ k.b) * MIX);
    }
    uint64_t word;
    const char *last = p + n - 8;
    for (h = (uint64_t)n * MIX; p < last; p += 8) {
        memcpy(&word, p, 8);
        h = (h ^ word) * MIX;
        h ^= h >> 32;
    }
    memcpy(&word, last, 8);
    return finish_hash((h ^ word) * MIX);
}

/* Whether n bytes at a and b are equal (inline: values are short). Up to 16
 * bytes (an IP) with two overlapping words and no loop: a loop's exit on a
 * length that varies from value to value was a branch mispredicted per lookup.
 * Every read stays inside [a, a + n) and [b, b + n). */
static ALWAYS_INLINE int same_bytes(const char *a, const char *b, Py_ssize_t n) {
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

/* A block's own table (Dict) uses open addressing with slots of a 32-bit tag
 * (high half) and an index (low half), so a probe rarely looks at a value that
 * is not the one; all ones is an empty slot. At most half the slots are used. */
#define EMPTY UINT32_MAX

/* The read's dictionary of one column (one per read, in a Dictionaries).
 *
 * Its table is in two parts, so that the part every lookup touches is small:
 * at 65,000 IPs 131,072 slots of 4 bytes (512 KiB) and the keys of the values
 * by code (16 bytes each, 1 MiB); this CPU's L2 cache is 2 MiB. (Before, one
 * array of 32-byte entries: 4 MiB, a wait on the L3 cache per lookup.)
 *   - a slot: 0 free, else the value's code + 1 in the low bits (the bits of
 *     the mask: a table holds at most half as many values as it has slots),
 *     the hash's high bits above them (the tag), and bit 31 set for a value
 *     longer than SHORT bytes (its key holds a pointer: never compared as bytes);
 *   - keys[code]: key_of the value (a long one's bytes in the arena).
 * A lookup compares a slot's tag, then the key of its code: the two loads a
 * lookup waits on, in 1.5 MiB instead of 4.
 *
 * The main thread adds values, in order of first appearance in the file (it
 * merges blocks in file order); the scanner threads look values up in it at the
 * same time, without a lock, and keep in their block's own table (Dict) only
 * the values it does not hold yet. What they read is published so that a
 * reader sees either nothing or the whole of it:
 *   - a value's key (keys[code]) is written before its slot, and the slot is
 *     stored with release, loaded with acquire: a slot still empty means "not
 *     known", which the merge of the block then resolves (it cannot be wrong:
 *     codes never change once given); keys[code] is written once per table;
 *   - a value longer than SHORT bytes is compared through its bytes in the
 *     arena, whose chunks never move;
 *   - a table that is full is not grown in place: a twice larger one is built
 *     (slots from the hashes, keys copied) and published (release); the old one
 *     stays readable (retired, freed with the Dictionaries: at most as large as
 *     the current one, all together) and is never written again.
 * Values and their bytes in code order (values, the arena) are the main
 * thread's alone. */
typedef struct {
    uint32_t mask;   /* slots - 1 */
    int32_t room;    /* values it holds before the next table (half its slots) */
    uint32_t *slots; /* tag | code + 1; 0: free. Stored last (release) */
    Key *keys;       /* by code (room of them) */
    void *memory;    /* slots, then keys */
    int huge;        /* memory from posix_memalign, in huge pages */
} Table;

typedef struct {
    const char *ptr; /* in the arena */
    Py_ssize_t len;
    uint64_t hash; /* where it goes in a larger table */
} Span;

typedef struct {
    Table *table; /* the current table: LOAD_ACQUIRE it outside the main thread */
    Table **retired;
    Py_ssize_t n_retired;
    Span *values; /* by code */
    int32_t n, cap;
    char **chunks; /* the arena: values' bytes in code order, in chunks that never move */
    Py_ssize_t *chunk_used, n_chunks, chunk_room, used;
} Shared;

#define LONG_TAG 0x80000000u

/* A slot's bits above the code (mask: the table's): the hash's high bits, and
 * whether the value is longer than SHORT bytes. */
static ALWAYS_INLINE uint32_t tag_of(uint64_t h, Py_ssize_t n, uint32_t mask) {
    return ((uint32_t)(h >> 32) & ~mask & ~LONG_TAG) | (n > SHORT ? LONG_TAG : 0);
}

static Table *table_new(uint32_t n_slots) {
    Table *t = PyMem_RawMalloc(sizeof(Table));
    if (!t)
        return NULL;
    t->mask = n_slots - 1;
    t->room = (int32_t)(n_slots / 2);
    size_t slot_bytes = sizeof(uint32_t) * (size_t)n_slots;
    size_t bytes = slot_bytes + sizeof(Key) * (size_t)t->room;
#if defined(MADV_HUGEPAGE)
    if (bytes >= HUGE_PAGE / 2) { /* one TLB entry per 2 MiB: a lookup's miss walks no page table */
        bytes = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1); /* whole pages: the kernel maps them */
        t->memory = posix_memalign(&t->memory, HUGE_PAGE, bytes) ? NULL : t->memory;
        if (t->memory)
            madvise(t->memory, bytes, MADV_HUGEPAGE);
        t->huge = 1;
    } else
#endif
    {
        t->memory = PyMem_RawMalloc(bytes);
        t->huge = 0;
    }
    if (!t->memory) {
        PyMem_RawFree(t);
        return NULL;
    }
    t->slots = t->memory;
    t->keys = (Key *)((char *)t->memory + slot_bytes); /* aligned to 16: one line per key */
    memset(t->slots, 0, slot_bytes);
    return t;
}

static void table_free(Table *t) {
    if (t) {
        if (t->huge)
            free(t->memory);
        else
            PyMem_RawFree(t->memory);
        PyMem_RawFree(t);
    }
}

static int shared_init(Shared *d) {
    memset(d, 0, sizeof(*d));
    d->table = table_new(128);
    return d->table ? 0 : -1;
}

static void shared_free(Shared *d) {
    table_free(d->table);
    for (Py_ssize_t i = 0; i < d->n_retired; i++)
        table_free(d->retired[i]);
    PyMem_RawFree(d->retired);
    PyMem_RawFree(d->values);
    for (Py_ssize_t i = 0; i < d->n_chunks; i++)
        PyMem_RawFree(d->chunks[i]);
    PyMem_RawFree(d->chunks);
    PyMem_RawFree(d->chunk_used);
    memset(d, 0, sizeof(*d));
}

/* Whether key e (a table's) is the value's (n bytes at p, k = key_of). */
static ALWAYS_INLINE int same_key(const Key *e, const char *p, Py_ssize_t n, Key k) {
    return n <= SHORT ? e->a == k.a && e->b == k.b
                      : e->a == k.a && same_bytes((const char *)(uintptr_t)e->b, p, n);
}

/* The code of a value in a table (k = key_of(p, n), h = hash_of), or -1 with
 * *slot where it would go. Safe in any thread (see Shared). */
static ALWAYS_INLINE int32_t table_find(const Table *t, const char *p, Py_ssize_t n,
                                        uint64_t h, Key k, uint32_t *slot) {
    uint32_t mask = t->mask, tag = tag_of(h, n, mask), s = (uint32_t)h & mask;
    for (;;) {
        uint32_t v = LOAD_ACQUIRE(&t->slots[s]);
        if (!v)
            break;
        if ((v & ~mask) == tag) { /* a long value's tag never matches a short one's */
            uint32_t code = (v & mask) - 1;
            if (same_key(&t->keys[code], p, n, k))
                return (int32_t)code;
        }
        s = (s + 1) & mask;
    }
    *slot = s;
    return -1;
}

/* A value's key and slot in a table (at slot, which table_find gave), published. */
static inline void table_put(Table *t, uint32_t slot, uint64_t h, Py_ssize_t n, Key k,
                             int32_t code) {
    t->keys[code] = k;
    STORE_RELEASE(&t->slots[slot], tag_of(h, n, t->mask) | ((uint32_t)code + 1));
}

/* A twice larger table, published once complete; the old one retired. */
static int shared_grow(Shared *d) {
    Table *old = d->table, *t;
    Table **retired = PyMem_RawRealloc(d->retired, sizeof(Table *) * (d->n_retired + 1));
    if (!retired)
        return -1;
    d->retired = retired;
    if (old->mask > UINT32_MAX / 4 || !(t = table_new((old->mask + 1) * 2)))
        return -1;
    /* not published yet: plain writes */
    memcpy(t->keys, old->keys, sizeof(Key) * (size_t)d->n);
    for (int32_t code = 0; code < d->n; code++) {
        uint64_t h = d->values[code].hash;
        uint32_t to = (uint32_t)h & t->mask;
        while (t->slots[to])
            to = (to + 1) & t->mask;
        t->slots[to] = tag_of(h, d->values[code].len, t->mask) | ((uint32_t)code + 1);
    }
    d->retired[d->n_retired++] = old;
    STORE_RELEASE(&d->table, t);
    return 0;
}

/* n bytes copied to the arena (main thread); NULL on memory error. */
static const char *arena_copy(Shared *d, const char *p, Py_ssize_t n) {
    if (!d->n_chunks || d->chunk_room - d->chunk_used[d->n_chunks - 1] < n) {
        Py_ssize_t room = d->chunk_room < (1 << 20) ? (d->chunk_room ? d->chunk_room * 2 : 4096)
                                                    : d->chunk_room;
        if (room < n)
            room = n;
        char **chunks = PyMem_RawRealloc(d->chunks, sizeof(char *) * (d->n_chunks + 1));
        if (chunks)
            d->chunks = chunks;
        Py_ssize_t *used = PyMem_RawRealloc(d->chunk_used, sizeof(Py_ssize_t) * (d->n_chunks + 1));
        if (used)
            d->chunk_used = used;
        char *chunk = chunks && used ? PyMem_RawMalloc(room ? room : 1) : NULL;
        if (!chunk)
            return NULL;
        d->chunks[d->n_chunks] = chunk;
        d->chunk_used[d->n_chunks++] = 0;
        d->chunk_room = room;
    }
    char *at = d->chunks[d->n_chunks - 1] + d->chunk_used[d->n_chunks - 1];
    memcpy(at, p, n);
    d->chunk_used[d->n_chunks - 1] += n;
    d->used += n;
    return at;
}

/* Adds a value table_find did not find in the current table (at *slot), main
 * thread only; its code, or -2 on memory error. */
static int32_t shared_add(Shared *d, const char *p, Py_ssize_t n, uint64_t h, Key k,
                          uint32_t slot) {
    if (d->n >= INT32_MAX - 1)
        return -2;
    if (d->n == d->table->room) { /* its growth failed after the last add */
        if (shared_grow(d) < 0)
            return -2;
        table_find(d->table, p, n, h, k, &slot);
    }
    if (d->n == d->cap) {
        int32_t cap = d->cap ? (d->cap < INT32_MAX / 2 ? d->cap * 2 : INT32_MAX) : 64;
        Span *values = PyMem_RawRealloc(d->values, sizeof(Span) * cap);
        if (!values)
            return -2;
        d->values = values;
        d->cap = cap;
    }
    const char *at = arena_copy(d, p, n);
    if (!at)
        return -2;
    Table *t = d->table;
    int32_t code = d->n++;
    d->values[code] = (Span){at, n, h};
    table_put(t, slot, h, n, n > SHORT ? (Key){(uint64_t)n, (uint64_t)(uintptr_t)at} : k, code);
    if (d->n == t->room && shared_grow(d) < 0)
        return -2;
    return code;
}

/* A block's own dictionary (a scanner thread's): the values of the block the
 * read's dictionary did not hold when they were looked up, in order of first
 * appearance; their bytes stay in the block. */
typedef struct {
    const char *ptr;
    Py_ssize_t len;
    uint64_t hash;
} Value;

typedef struct {
    Value *values;
    int32_t n, cap;
    uint64_t *slots;
    uint32_t mask;
} Dict;

/* An empty dictionary with room for `size` values (at least 64) before its
 * table grows (kept at most half full). */
static int dict_init(Dict *d, int32_t size) {
    memset(d, 0, sizeof(*d));
    d->cap = 64;
    while (d->cap <= size && d->cap <= INT32_MAX / 4)
        d->cap *= 2;
    d->mask = (uint32_t)d->cap * 2 - 1;
    d->values = PyMem_RawMalloc(sizeof(Value) * d->cap);
    d->slots = PyMem_RawMalloc(sizeof(uint64_t) * (d->mask + 1));
    if (!d->values || !d->slots)
        return -1;
    memset(d->slots, 0xff, sizeof(uint64_t) * (d->mask + 1));
    return 0;
}

static void dict_free(Dict *d) {
    PyMem_RawFree(d->values);
    PyMem_RawFree(d->slots);
    memset(d, 0, sizeof(*d));
}

static int dict_grow(Dict *d) {
    uint32_t new_mask = d->mask * 2 + 1;
    uint64_t *slots = PyMem_RawMalloc(sizeof(uint64_t) * ((size_t)new_mask + 1));
    if (!slots)
        return -1;
    memset(slots, 0xff, sizeof(uint64_t) * ((size_t)new_mask + 1));
    for (int32_t i = 0; i < d->n; i++) {
        uint32_t s = (uint32_t)d->values[i].hash & new_mask;
        while ((uint32_t)slots[s] != EMPTY)
            s = (s + 1) & new_mask;
        slots[s] = (d->values[i].hash >> 32) << 32 | (uint32_t)i;
    }
    PyMem_RawFree(d->slots);
    d->slots = slots;
    d->mask = new_mask;
    return 0;
}

/* The index of a value in a block's dictionary, added if new; -1 on memory error. */
static inline int32_t dict_index(Dict *d, const char *p, Py_ssize_t n, uint64_t h) {
    uint32_t s = (uint32_t)h & d->mask;
    for (;;) {
        uint64_t slot_value = d->slots[s];
        uint32_t i = (uint32_t)slot_value;
        if (i == EMPTY)
            break;
        if (slot_value >> 32 == h >> 32) {
            const Value *v = &d->values[i];
            if (v->len == n && same_bytes(v->ptr, p, n))
                return (int32_t)i;
        }
        s = (s + 1) & d->mask;
    }
    if (d->n == d->cap) {
        if (d->cap > INT32_MAX / 4)
            return -1;
        Value *values = PyMem_RawRealloc(d->values, sizeof(Value) * d->cap * 2);
        if (!values)
            return -1;
        d->values = values;
        d->cap *= 2;
    }
    int32_t i = d->n++;
    d->values[i] = (Value){p, n, h};
    d->slots[s] = (h >> 32) << 32 | (uint32_t)i;
    if ((uint32_t)d->n * 2 > d->mask && dict_grow(d) < 0)
        return -1;
    return i;
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

/* A value of a dictionary column to look up (see value_code). */
typedef struct {
    const char *ptr;
    Py_ssize_t len;
    Key key;
    uint64_t hash;
    const Table *table; /* the read's table it was prefetched from; NULL: none */
    Py_ssize_t row;
} Pending;

#define BATCH 16 /* values looked up together: their entries fetched meanwhile */

typedef struct {
    Pending items[BATCH];
    int n;
} Batch;

/* The previous row's value of a dictionary column (values repeat row after row). */
typedef struct {
    const char *ptr; /* NULL: none yet */
    Py_ssize_t len;
    int32_t code;
} Last;

/* A block's rows. A code of account/type/ip is the read's code (>= 0), -1 for
 * null, or -2 - i for value i of the block's own dictionary: a value the read's
 * dictionary did not hold when it was looked up (the merge resolves it). */
typedef struct {
    int64_t *played_at;
    int32_t *player_id, *media_id, *codes[N_DICTS];
    Dict dicts[N_DICTS];            /* the block's own */
    const Shared *shared[N_DICTS]; /* the read's, looked up first; NULL: none */
    Last last[N_DICTS];
    Batch batch[N_DICTS]; /* values to look up, in row order; items[n]: this row's */
    DateCache date;
} Out;

#define DEFER INT32_MIN /* a value_code: looked up later (in its column's batch) */

#define CACHED_SLOTS 16384 /* a table this small (192 KiB) stays in cache: no deferring */

/* The code (see Out) of a value of a dictionary column, n bytes at p in the
 * block, or DEFER (always with finish_row at the end of the row).
 *
 * Looking a value up in a large read's dictionary (65,000 IPs: 1.5 MiB of slots and keys)
 * mostly misses the cache: so its entry is fetched now, and the lookup is done
 * with those of the next rows (BATCH of them: finish_row), when it has arrived. */
static ALWAYS_INLINE int32_t value_code(Out *out, int column, const char *p, Py_ssize_t n) {
    Last *last = &out->last[column];
    Batch *b = &out->batch[column];
    if (last->ptr && last->len == n && same_bytes(last->ptr, p, n)) {
        if (last->code == DEFER) /* the previous row's value, still to look up: again */
            b->items[b->n] = b->items[b->n - 1];
        return last->code; /* the previous row's value again */
    }
    Key k = key_of(p, n);
    uint64_t h = hash_of(p, n, k);
    const Table *t = out->shared[column] ? LOAD_ACQUIRE(&out->shared[column]->table) : NULL;
    if (t && t->mask < CACHED_SLOTS) {
        uint32_t slot;
        int32_t code = table_find(t, p, n, h, k, &slot);
        if (code >= 0) {
            *last = (Last){p, n, code};
            return code;
        }
    } else if (t) {
        PREFETCH(&t->slots[(uint32_t)h & t->mask]);
    }
    b->items[b->n] = (Pending){p, n, k, h, t, 0};
    *last = (Last){p, n, DEFER};
    return DEFER;
}

/* p just past a kept string's opening quote: past its closing quote, its
 * value_code in *code; NULL: cannot vouch (an escape, a control character). */
static inline const char *dict_string(const char *p, const char *end, Out *out, int column,
                                      int32_t *code) {
    const Last *last = &out->last[column];
    if (last->ptr && last->code != DEFER && end - p > last->len && p[last->len] == '"' &&
        same_bytes(last->ptr, p, last->len)) {
        *code = last->code; /* the previous row's value again, its end found at once */
        return p + last->len + 1;
    }
    const char *close = plain_string_end(p, end);
    if (!close)
        return NULL;
    *code = value_code(out, column, p, close - p);
    return close + 1;
}

/* A column's batch looked up, codes written (in row order: a value the read's
 * dictionary does not hold goes to the block's own in order of first
 * appearance): 1, -1 on memory error. */
static int look_up_batch(Out *out, int column) {
    Batch *b = &out->batch[column];
    int32_t code = -1;
    for (int i = 0; i < b->n; i++) {
        const Pending *q = &b->items[i];
        uint32_t slot = 0;
        code = q->table ? table_find(q->table, q->ptr, q->len, q->hash, q->key, &slot) : -1;
        if (code < 0) {
            int32_t local = dict_index(&out->dicts[column], q->ptr, q->len, q->hash);
            if (local < 0)
                return -1;
            code = -2 - local;
        }
        out->codes[column][q->row] = code;
    }
    Last *last = &out->last[column];
    if (b->n && last->ptr == b->items[b->n - 1].ptr)
        last->code = code; /* the same value on the next rows */
    b->n = 0;
    return 1;
}

/* At the end of a row: its codes (value_code's) written, or the values queued
 * in their column's batch, looked up once it is full: 1, -1 on memory error. */
static ALWAYS_INLINE int finish_row(Out *out, Py_ssize_t row, const int32_t *codes) {
    for (int c = 0; c < N_DICTS; c++) {
        if (codes[c] != DEFER) {
            out->codes[c][row] = codes[c];
            continue;
        }
        Batch *b = &out->batch[c];
        b->items[b->n++].row = row;
        if (b->n == BATCH && look_up_batch(out, c) < 0)
            return -1;
    }
    return 1;
}

/* The values still queued looked up (at the end of a block): 1, -1. */
static int finish_rows(Out *out) {
    for (int c = 0; c < N_DICTS; c++)
        if (look_up_batch(out, c) < 0)
            return -1;
    return 1;
}

/* A line's values written as row `row` (what scan_line and the SIMD paths
 * read): as finish_row. */
static ALWAYS_INLINE int store_row(Out *out, Py_ssize_t row, int64_t played_at, int32_t player,
                                   int32_t media, const int32_t *codes) {
    out->played_at[row] = played_at;
    out->player_id[row] = player;
    out->media_id[row] = media;
    return finish_row(out, row, codes);
}

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
                p = dict_string(p + 1, end, out, id - K_ACCOUNT, &codes[id - K_ACCOUNT]);
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
    return store_row(out, row, days * 86400 + seconds, player, media, codes);
}

/* ------------------------------------------------------------ one line, with SIMD */

/* The usual line (compact, the seven known keys once each, no escape, no
 * control character) read from bitmaps of its bytes instead of byte by byte.
 * The WINDOW bytes from the line's start give the positions of its '"', ','
 * and of the '\\' and control characters (the first of those must be the
 * line's '\n'). Its seven segments `X"key":value` (X the '{' or a ',') lie
 * between the ',' (a string that holds one makes the count wrong: scan_line
 * reads that line), the last one up to the '}' before the '\n'. Each segment's
 * key is checked on its own, with no branch on which key it is (keys come in
 * any order; scan_line mispredicted ~13 branches a row on them) and no
 * segment waiting for the one before (a walk from one segment to the next was
 * latency-bound):
 *   - avx2: its second byte picks the one known key it can be, checked by two
 *     masked 8-byte compares of `"key":` (key_table), one segment after the
 *     other;
 *   - avx512 (with VBMI, VBMI2 and GFNI): all seven at once: the segments'
 *     starts packed into one word (vpcompressb), their first 16 bytes gathered
 *     from the line's three registers (vpermb), the key looked up by its second
 *     letter in a table of eight (vpermq) and compared; which segment holds
 *     which key is a permutation, inverted with two GF(2) matrix products
 *     (vgf2p8affineqb: transpose, then log2 of one-hot bytes).
 * Both give the values' positions by key, read then in a fixed order
 * (line_values: dates through read_date, times and ints with SIMD / SWAR,
 * read_int32 for what those do not take). ~45% less CPU than scan_line on
 * the realistic file (docs/benchmarks.md, "The scanner, session 5").
 *
 * It only ever accepts a line scan_line accepts, with the same values; on
 * anything else it answers 0 and scan_line reads the line (so declining rules,
 * errors and line numbers are scan_line's). What it accepts: '{', then exactly
 * seven segments, the first six followed by ',', the last by the '}' just
 * before the '\n'; each segment one of the seven keys (each once: so all
 * seven), its value a date, a time, an int32, or for account/type/ip a string
 * or null, each read exactly as scan_line reads it (a value must end where its
 * segment does); no '\\' or control character on the line; and as many quotes
 * on the line as keys, dates, times and strings account for (so none inside a
 * string: what is between a string's quotes is plain text, ',' '}' ':' too). */

#if defined(HAVE_SIMD)
#define WINDOW 192 /* bytes classified per line: a longer line takes scan_line */
#define SLACK 64   /* and room past the window (16-byte reads near a value's end) */

/* The known keys by their second byte & 31 (all different): the bytes
 * `"key":` (little-endian, in two words, with the masks of the bytes that
 * count), their number, and the key's id. */
typedef struct {
    uint64_t word[2], mask[2];
    int32_t span, id;
} KeyEntry;

static KeyEntry key_table[32];

/* The same by slot for the avx512 path: a segment's bytes 1-8 as a
 * little-endian word A, its slot is ((A >> 17) ^ (A >> 18)) & 7 (bits of the
 * key's second letter: the seven keys get seven different slots; slot 7 has
 * none and never matches), then the bytes of `"key":` and their masks (bytes
 * 1-8, then 9-16 of the segment), where its value starts in the segment (1 +
 * the key's bytes), and the slot of each key id (0x80 past the seventh). */
static struct {
    uint64_t word[2][8], mask[2][8];
    uint8_t value_at[16], slot_of[16];
} slots __attribute__((aligned(64)));

static ALWAYS_INLINE unsigned slot_of_word(uint64_t a) { return (unsigned)((a >> 17) ^ (a >> 18)) & 7; }

/* 0, or -1 if two keys share a slot (then the avx512 path is not offered). */
static int init_key_table(void) {
    static const char *names[N_KEYS] = {"date", "time", "playerId", "mediaId",
                                        "account", "type", "ip"};
    unsigned taken = 0;
    for (int i = 0; i < 32; i++) /* the slots no key has: never match */
        key_table[i] = (KeyEntry){{~(uint64_t)0, 0}, {0, 0}, 0, 0};
    for (int i = 0; i < 8; i++) {
        slots.word[0][i] = 0;
        slots.mask[0][i] = 0xFF; /* byte 1 of a segment 0: never (a control character) */
        slots.word[1][i] = slots.mask[1][i] = 0;
    }
    memset(slots.value_at, 0, sizeof(slots.value_at));
    memset(slots.slot_of, 0x80, sizeof(slots.slot_of));
    for (int id = 0; id < N_KEYS; id++) {
        char text[16] = {0};
        int n = snprintf(text, sizeof(text), "\"%s\":", names[id]);
        KeyEntry *e = &key_table[names[id][1] & 31];
        *e = (KeyEntry){{0, 0}, {0, 0}, n, id};
        memcpy(e->word, text, 16);
        for (int i = 0; i < n; i++)
            e->mask[i / 8] |= (uint64_t)0xFF << (8 * (i % 8));
        unsigned s = slot_of_word(e->word[0]);
        taken |= (taken >> s & 1) << 8; /* a slot taken twice */
        taken |= 1u << s;
        for (int w = 0; w < 2; w++) {
            slots.word[w][s] = e->word[w];
            slots.mask[w][s] = e->mask[w];
        }
        slots.value_at[s] = (uint8_t)(1 + n);
        slots.slot_of[id] = (uint8_t)s;
    }
    return taken >> 8 ? -1 : 0;
}

/* What every CPU with AVX2 has: the helpers below are inlined into both SIMD paths,
 * compiled with tzcnt (64 for 0, no branch), popcnt and SSSE3. */
#define FAST __attribute__((always_inline, target("bmi,bmi2,popcnt,ssse3"))) static inline

FAST int tz64(uint64_t x) { return (int)_tzcnt_u64(x); }

/* Ones below bit n, for n in [lo, lo + 64] and up to 255 past it (n < lo: none). */
FAST uint64_t below(int n, int lo) {
    return _bzhi_u64(-(uint64_t)(n > lo), (unsigned)(n - lo));
}

/* The line's length up to its '\n' from the mask of its '\\' and control
 * characters (the first must be the '\n'): WINDOW if none. */
FAST int line_length(uint64_t s0, uint64_t s1, uint64_t s2) {
    int len = tz64(s0);
    len = len == 64 ? 64 + tz64(s1) : len;
    return len == 128 ? 128 + tz64(s2) : len;
}

/* A JSON int32 at p, n bytes to its segment's end: 1 if it is exactly those n
 * bytes (1 to 8 digits, no leading zero: SWAR; else read_int32 decides), its
 * value in *out; 0 otherwise. 8 bytes readable at p. */
FAST int int_of(const char *p, int n, int32_t *out) {
    if ((unsigned)(n - 1) < 8 && (n == 1 || *p != '0')) {
        uint64_t w, t;
        memcpy(&w, p, 8);
        t = (w ^ (ONES * '0')) << (8 * (8 - n)); /* the n bytes at the top, digits now 0-9 */
        if (!((((t & 0x7F7F7F7F7F7F7F7Fu) + ONES * 0x76) | t) & HIGHS)) { /* all digits */
            t = (t * 2561) >> 8 & 0x00FF00FF00FF00FFu;
            t = (t * 6553601) >> 16 & 0x0000FFFF0000FFFFu;
            *out = (int32_t)((t * 42949672960001u) >> 32);
            return 1;
        }
    }
    return read_int32(p, out) == p + n;
}

/* "HH:MM:SS" (quoted, 00:00:00-23:59:59; read_time's rule) at p, n bytes to
 * its segment's end: 1 and its seconds of the day, or 0. 16 bytes readable. */
FAST int time_of(const char *p, int n, int64_t *seconds) {
    __m128i t = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)p),
                             _mm_setr_epi8('"', '0', '0', ':', '0', '0', ':', '0', '0', '"', 0, 0,
                                           0, 0, 0, 0));
    /* each byte within its bounds: the quotes and colons 0, the digits 0-9, the
     * tens of hours 0-2, of minutes and seconds 0-5 */
    __m128i most = _mm_setr_epi8(0, 2, 9, 0, 5, 9, 0, 5, 9, 0, -1, -1, -1, -1, -1, -1);
    int in_bounds = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(t, most), t)) == 0xFFFF;
    __m128i hms = _mm_maddubs_epi16(
        _mm_shuffle_epi8(t, _mm_setr_epi8(1, 2, 4, 5, 7, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1)),
        _mm_setr_epi8(10, 1, 10, 1, 10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)); /* h, m, s */
    __m128i sum = _mm_madd_epi16(hms, _mm_setr_epi16(3600, 60, 1, 0, 0, 0, 0, 0));
    *seconds = _mm_cvtsi128_si32(_mm_add_epi32(sum, _mm_srli_si128(sum, 4)));
    return in_bounds & (n == 10) & ((_mm_cvtsi128_si32(hms) & 0xFFFF) <= 23);
}

/* The rest of fast_line once the keys are checked: pos[K] and pos[8 + K] are
 * where key K's value starts and ends (its segment's end); the values read in
 * a fixed order, each exactly its segment's. */
FAST int line_values(const char *p, const char *origin, const uint8_t *pos, int n_quotes, int len,
                     Out *out, Py_ssize_t row, int *length) {
    int start[N_KEYS], n[N_KEYS]; /* (copied: stores through out may not alias them) */
    for (int k = 0; k < N_KEYS; k++) {
        start[k] = pos[k];
        n[k] = pos[8 + k] - pos[k];
    }
    int64_t days = 0, seconds = 0;
    int32_t player = 0, media = 0;
    if (read_date(p + start[K_DATE], p + WINDOW + SLACK, &days, &out->date) !=
            p + start[K_DATE] + n[K_DATE] ||
        !time_of(p + start[K_TIME], n[K_TIME], &seconds) ||
        !int_of(p + start[K_PLAYER], n[K_PLAYER], &player) ||
        !int_of(p + start[K_MEDIA], n[K_MEDIA], &media))
        return 0;
    /* Strings: a quote at each end; the count of quotes on the line (two a key,
     * two a date or time, two a string) says there is none inside. */
    int expected = 2 * N_KEYS + 4, bad = 0, string[N_DICTS];
    for (int i = 0; i < N_DICTS; i++) {
        const char *v = p + start[K_ACCOUNT + i];
        int m = n[K_ACCOUNT + i];
        string[i] = m >= 2 && *v == '"' && v[m - 1] == '"';
        expected += 2 * string[i];
        bad |= !string[i] & (m != 4 || memcmp(v, "null", 4) != 0);
    }
    if (bad || n_quotes != expected)
        return 0;
    int32_t codes[N_DICTS];
    for (int i = 0; i < N_DICTS; i++) /* values point into the block; else null */
        codes[i] = string[i] ? value_code(out, i, origin + start[K_ACCOUNT + i] + 1,
                                          n[K_ACCOUNT + i] - 2)
                             : -1;
    *length = len;
    return store_row(out, row, days * 86400 + seconds, player, media, codes);
}

typedef struct {
    /* bit i of word k: byte 64k + i is '"', ',', or '\\' or a byte below 0x20 */
    uint64_t quote[3], comma[3], special[3];
} Masks;

/* The line at p (avx2), with the masks of the WINDOW bytes from p, and WINDOW +
 * SLACK bytes readable from p; the line is at `origin` in the block (p is
 * origin, or a copy of the block's last bytes, padded): as scan_line (1: a row
 * written, *length the line's up to its '\n'; -1: memory error), or 0: not
 * this fast path's line. */
FAST int fast_line(const char *p, const char *origin, const Masks *m, Out *out, Py_ssize_t row,
                   int *length) {
    int len = line_length(m->special[0], m->special[1], m->special[2]);
    if (*p != '{' || len == WINDOW || p[len] != '\n' || p[len - 1] != '}')
        return 0;
    uint64_t in[3] = {below(len, 0), below(len, 64), below(len, 128)};
    int n_quotes = __builtin_popcountll(m->quote[0] & in[0]) +
                   __builtin_popcountll(m->quote[1] & in[1]) +
                   __builtin_popcountll(m->quote[2] & in[2]);
    /* the segments' first bytes: the '{' and the ',' (a string holding one
     * makes the count wrong, or a segment: scan_line reads that line) */
    uint64_t starts[3] = {(m->comma[0] & in[0]) | 1, m->comma[1] & in[1], m->comma[2] & in[2]};
    int counts[3] = {__builtin_popcountll(starts[0]), __builtin_popcountll(starts[1]),
                     __builtin_popcountll(starts[2])};
    if (counts[0] + counts[1] + counts[2] != N_KEYS)
        return 0;
    int at[3 * N_KEYS + 1], n = 0; /* the starts (N_KEYS written per word), then the '}' */
    for (int k = 0; k < 3; k++) {
        uint64_t bits = starts[k];
        for (int j = 0; j < N_KEYS; j++, bits &= bits - 1)
            at[n + j] = 64 * k + tz64(bits);
        n += counts[k];
    }
    at[N_KEYS] = len - 1;
    uint8_t pos[16];
    unsigned seen = 0, bad = 0;
    for (int i = 0; i < N_KEYS; i++) {
        int s = at[i];
        const KeyEntry *e = &key_table[p[s + 3] & 31];
        uint64_t w0, w1;
        memcpy(&w0, p + s + 1, 8);
        memcpy(&w1, p + s + 9, 8);
        bad |= ((w0 & e->mask[0]) != e->word[0]) | ((w1 & e->mask[1]) != e->word[1]);
        seen |= 1u << e->id;
        pos[e->id] = (uint8_t)(s + 1 + e->span);
        pos[8 + e->id] = (uint8_t)at[i + 1];
    }
    if (bad || seen != (1u << N_KEYS) - 1) /* seven keys, seven segments: each once */
        return 0;
    return line_values(p, origin, pos, n_quotes, len, out, row, length);
}

/* The same with AVX-512 (F, BW, VL, VBMI, VBMI2) and GFNI, all seven keys at once. */
#define AVX512_TARGET "avx512f,avx512bw,avx512vl,avx512vbmi,avx512vbmi2,gfni,bmi,bmi2,popcnt"

static const uint8_t IOTA[WINDOW] __attribute__((aligned(64))) = {
#define I8(k) k, k + 1, k + 2, k + 3, k + 4, k + 5, k + 6, k + 7
    I8(0),   I8(8),   I8(16),  I8(24),  I8(32),  I8(40),  I8(48),  I8(56),
    I8(64),  I8(72),  I8(80),  I8(88),  I8(96),  I8(104), I8(112), I8(120),
    I8(128), I8(136), I8(144), I8(152), I8(160), I8(168), I8(176), I8(184),
#undef I8
};

__attribute__((always_inline, target(AVX512_TARGET))) static inline int
fast_line_avx512(const char *p, const char *origin, Out *out, Py_ssize_t row, int *length) {
    const __m512i v0 = _mm512_loadu_si512((const void *)p),
                  v1 = _mm512_loadu_si512((const void *)(p + 64)),
                  v2 = _mm512_loadu_si512((const void *)(p + 128));
    const __m512i slash = _mm512_set1_epi8('\\'), space = _mm512_set1_epi8(0x20),
                  quote = _mm512_set1_epi8('"'), comma = _mm512_set1_epi8(',');
#define SPECIAL(v) (_mm512_cmpeq_epi8_mask(v, slash) | _mm512_cmplt_epu8_mask(v, space))
    int len = line_length(SPECIAL(v0), SPECIAL(v1), SPECIAL(v2));
#undef SPECIAL
    if (*p != '{' || len == WINDOW || p[len] != '\n' || p[len - 1] != '}')
        return 0;
    uint64_t in0 = below(len, 0), in1 = below(len, 64), in2 = below(len, 128);
    int n_quotes = __builtin_popcountll(_mm512_cmpeq_epi8_mask(v0, quote) & in0) +
                   __builtin_popcountll(_mm512_cmpeq_epi8_mask(v1, quote) & in1) +
                   __builtin_popcountll(_mm512_cmpeq_epi8_mask(v2, quote) & in2);
    /* the segments' first bytes ('{', then the ','), packed: byte j of `at` is
     * where segment j starts, byte 7 the '}' */
    uint64_t b0 = (_mm512_cmpeq_epi8_mask(v0, comma) & in0) | 1,
             b1 = _mm512_cmpeq_epi8_mask(v1, comma) & in1,
             b2 = _mm512_cmpeq_epi8_mask(v2, comma) & in2;
    int k0 = __builtin_popcountll(b0), k01 = k0 + __builtin_popcountll(b1);
    if (k01 + __builtin_popcountll(b2) != N_KEYS)
        return 0;
#define PACK(b, k) \
    _mm_cvtsi128_si64(_mm512_castsi512_si128( \
        _mm512_maskz_compress_epi8(b, _mm512_load_si512((const void *)(IOTA + 64 * k)))))
    /* (& 63: a shift of 64 becomes one of 0, when the word shifted is 0 anyway) */
    uint64_t at = (uint64_t)PACK(b0, 0) | (uint64_t)PACK(b1, 1) << (8 * k0 & 63) |
                  (uint64_t)PACK(b2, 2) << (8 * k01 & 63) | (uint64_t)(len - 1) << 56;
#undef PACK
    /* bytes 1-8 and 9-16 of each segment (lane j: segment j; bytes past 191
     * read wrong, but a key there is past its segment's end: its value fails) */
    const __m512i spread = _mm512_set_epi64(
        0x0707070707070707, 0x0606060606060606, 0x0505050505050505, 0x0404040404040404,
        0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    const __m512i one_to_8 = _mm512_set1_epi64(0x0807060504030201);
    __m512i ia = _mm512_add_epi8(_mm512_permutexvar_epi8(spread, _mm512_set1_epi64((long long)at)),
                                 one_to_8);
    __m512i ib = _mm512_add_epi8(ia, _mm512_set1_epi8(8));
#define GATHER(i) \
    _mm512_mask_permutexvar_epi8(_mm512_permutex2var_epi8(v0, i, v1), _mm512_movepi8_mask(i), i, v2)
    __m512i a = GATHER(ia), b = GATHER(ib);
#undef GATHER
    __m512i slot = _mm512_xor_si512(_mm512_srli_epi64(a, 17), _mm512_srli_epi64(a, 18));
    /* (x ^ word) & mask, nonzero where a segment's key is not its slot's */
#define WRONG(x, w)                                                                           \
    _mm512_test_epi64_mask(                                                               \
        _mm512_ternarylogic_epi64(                                                        \
            x, _mm512_permutexvar_epi64(slot, _mm512_load_si512((const void *)slots.word[w])), \
            _mm512_permutexvar_epi64(slot, _mm512_load_si512((const void *)slots.mask[w])), \
            0x28),                                                                        \
        _mm512_set1_epi64(-1))
    if ((WRONG(a, 0) | WRONG(b, 1)) & 0x7F)
        return 0;
#undef WRONG
    /* which lane holds which slot: one-hot bytes (lane j: 1 << its slot) as an
     * 8x8 bit matrix, transposed (byte c, bit k: lane 7 - k has slot c), then
     * each byte's one bit as 7 - k: the lane of slot c. A key twice leaves
     * another key in no lane: its byte is 0, its lane 7, whose value ends at 0
     * (the byte shifted in below) and starts past len - 2: a negative length,
     * which every value reader of line_values refuses (so no check here). */
    __m128i s8 = _mm_and_si128(_mm512_cvtepi64_epi8(slot), _mm_set1_epi8(7));
    __m128i onehot = _mm_and_si128(_mm_shuffle_epi8(_mm_set1_epi64x(0x8040201008040201), s8),
                                   _mm_set_epi64x(0, 0x00FFFFFFFFFFFFFF)); /* lane 7: none */
    __m128i t = _mm_gf2p8affine_epi64_epi8(_mm_set1_epi64x(0x8040201008040201), onehot, 0);
    __m128i lane = _mm_gf2p8affine_epi64_epi8(t, _mm_set1_epi64x((long long)0xAACCF00000000000), 7);
    __m128i by_key = _mm_shuffle_epi8(lane, _mm_load_si128((const __m128i *)slots.slot_of));
    __m128i at8 = _mm_cvtsi64_si128((long long)at);
    __m128i start = _mm_add_epi8(at8, _mm_shuffle_epi8(_mm_load_si128((const __m128i *)slots.value_at), s8));
    uint8_t pos[16];
    _mm_storeu_si128((__m128i *)pos, _mm_unpacklo_epi64(_mm_shuffle_epi8(start, by_key),
                                                        _mm_shuffle_epi8(_mm_srli_si128(at8, 1), by_key)));
    return line_values(p, origin, pos, n_quotes, len, out, row, length);
}
#endif /* HAVE_SIMD */

/* ------------------------------------------------------------ Block */

/* One read's dictionaries (the Dictionaries type, below). */
typedef struct {
    PyObject_HEAD
    Shared dicts[N_DICTS];
    uint64_t serial; /* which Dictionaries a Block was scanned against, merged into (1, 2, ...) */
} DictsObject;

static PyTypeObject DictsType;

typedef struct {
    PyObject_HEAD
    Py_buffer *parts; /* the block's text: the values of dicts point into it */
    Py_ssize_t n_parts;
    char **seams; /* lines cut between parts, copied whole (values point there too) */
    Py_ssize_t n_seams;
    Py_ssize_t n_lines, n_rows, n_fast; /* n_fast: rows a SIMD fast path read */
    void *columns; /* one allocation: played_at, then the int32 columns */
    Out out;
    int32_t *remap[N_DICTS]; /* the read's code of each of the block's own values (merge) */
    uint64_t owner;          /* the serial of the Dictionaries the remap is for; 0: none */
    uint64_t scanned_for;    /* the serial of the Dictionaries its codes are of; 0: none */
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

static PyObject *block_n_fast(BlockObject *self, void *closure) {
    return PyLong_FromSsize_t(self->n_fast);
}

static PyGetSetDef block_getset[] = {
    {"n_lines", (getter)block_n_lines, NULL, "lines in the block (blank ones too)", NULL},
    {"n_rows", (getter)block_n_rows, NULL, "rows (non-blank lines)", NULL},
    {"n_fast", (getter)block_n_fast, NULL, "rows read by the SIMD path (tests)", NULL},
    {NULL},
};

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fouryousee_data.parse._fastscan.Block",
    .tp_basicsize = sizeof(BlockObject),
    .tp_dealloc = (destructor)block_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One scanned block: its rows, codes of a read's dictionaries or its own.",
    .tp_getset = block_getset,
};

/* The lines of [line, stop) (stop just past a '\n') into out from row *n_rows:
 * 1, 0: cannot vouch, -1: memory error. FAST_LINE(end, status) may read the
 * line at end first (status 0: it did not, scan_line does). */
#define SCAN_LINES_BODY(FAST_LINE)                                                                 \
    int status = 1;                                                                                \
    while (line < stop && status == 1) {                                                           \
        const char *end = skip_ws(line); /* stops at the region's last '\n', at the latest */     \
        ++*n_lines;                                                                                \
        if (*end != '\n') {                                                                        \
            status = 0;                                                                            \
            if (*n_rows < capacity) {                                                              \
                FAST_LINE(end, status);                                                            \
                if (status == 0)                                                                   \
                    status = scan_line(end, stop, out, *n_rows, &end);                             \
                if (status == 1)                                                                   \
                    ++*n_rows;                                                                     \
            }                                                                                      \
        }                                                                                          \
        if (status == 1 && end - line > max_line)                                                  \
            status = 0;                                                                            \
        line = end + 1;                                                                            \
    }                                                                                              \
    return status;

#define SCAN_LINES_ARGS                                                                            \
    const char *line, const char *stop, Out *out, Py_ssize_t capacity, Py_ssize_t max_line,        \
        Py_ssize_t *n_lines, Py_ssize_t *n_rows, Py_ssize_t *n_fast

#define NO_FAST_LINE(end, status) ((void)0)

static int scan_lines_plain(SCAN_LINES_ARGS) { SCAN_LINES_BODY(NO_FAST_LINE) }

#if defined(HAVE_SIMD)
/* The masks of the WINDOW bytes at p with AVX2: two 32-byte loads per word. */
__attribute__((target("avx2,bmi,bmi2,popcnt"))) static inline void classify_avx2(const char *p,
                                                                               Masks *m) {
    const __m256i quote = _mm256_set1_epi8('"'), slash = _mm256_set1_epi8('\\'),
                  below_space = _mm256_set1_epi8(0x1F), comma = _mm256_set1_epi8(',');
    for (int k = 0; k < 3; k++) {
        uint64_t q = 0, c = 0, s = 0;
        for (int h = 0; h < 2; h++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(p + 64 * k + 32 * h));
            __m256i control = _mm256_cmpeq_epi8(_mm256_min_epu8(v, below_space), v);
            __m256i special = _mm256_or_si256(_mm256_cmpeq_epi8(v, slash), control);
            q |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, quote)) << 32 * h;
            c |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, comma)) << 32 * h;
            s |= (uint64_t)(uint32_t)_mm256_movemask_epi8(special) << 32 * h;
        }
        m->quote[k] = q;
        m->comma[k] = c;
        m->special[k] = s;
    }
}

/* The line at end through a fast path; near the end of the region (the bytes
 * after it may not be readable) through a padded copy of what is left. */
#define SIMD_LINE(FAST_LINE)                                                                       \
    do {                                                                                           \
        int length = 0;                                                                            \
        if (stop - end >= WINDOW + SLACK) {                                                        \
            status = FAST_LINE(end, end, out, *n_rows, &length);                                   \
        } else {                                                                                   \
            char tail[WINDOW + SLACK] = {0};                                                       \
            memcpy(tail, end, stop - end);                                                         \
            status = FAST_LINE(tail, end, out, *n_rows, &length);                                  \
        }                                                                                          \
        if (status == 1) {                                                                         \
            end += length;                                                                         \
            ++*n_fast;                                                                             \
        }                                                                                          \
    } while (0)

__attribute__((always_inline, target("avx2,bmi,bmi2,popcnt"))) static inline int
fast_line_avx2(const char *p, const char *origin, Out *out, Py_ssize_t row, int *length) {
    Masks masks;
    classify_avx2(p, &masks);
    return fast_line(p, origin, &masks, out, row, length);
}

#define AVX512_LINE(end, status) SIMD_LINE(fast_line_avx512)
#define AVX2_LINE(end, status) SIMD_LINE(fast_line_avx2)

__attribute__((target(AVX512_TARGET))) static int scan_lines_avx512(SCAN_LINES_ARGS) {
    SCAN_LINES_BODY(AVX512_LINE)
}

__attribute__((target("avx2,bmi,bmi2,popcnt"))) static int scan_lines_avx2(SCAN_LINES_ARGS) {
    SCAN_LINES_BODY(AVX2_LINE)
}
#endif

/* Which scan_lines a scan uses (SIMD_NAMES[simd]); simd_best: the best this CPU has. */
enum { SIMD_NONE, SIMD_AVX2, SIMD_AVX512, N_SIMD };
static const char *SIMD_NAMES[N_SIMD] = {"none", "avx2", "avx512"};
static int simd_best, simd_level; /* guarded by the GIL */

static void init_simd(void) {
#if defined(HAVE_SIMD)
    int slots_ok = init_key_table() == 0;
    __builtin_cpu_init();
    int bits = __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
               __builtin_cpu_supports("popcnt");
    if (bits && __builtin_cpu_supports("avx2"))
        simd_best = SIMD_AVX2;
    if (bits && slots_ok && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vbmi2") &&
        __builtin_cpu_supports("gfni"))
        simd_best = SIMD_AVX512;
#endif
    simd_level = simd_best;
}

static int scan_lines(int simd, SCAN_LINES_ARGS) {
#if defined(HAVE_SIMD)
    if (simd == SIMD_AVX512)
        return scan_lines_avx512(line, stop, out, capacity, max_line, n_lines, n_rows, n_fast);
    if (simd == SIMD_AVX2)
        return scan_lines_avx2(line, stop, out, capacity, max_line, n_lines, n_rows, n_fast);
#endif
    return scan_lines_plain(line, stop, out, capacity, max_line, n_lines, n_rows, n_fast);
}

/* A piece of a line not finished in its part. */
typedef struct {
    const char *p;
    Py_ssize_t len;
} Fragment;

/* The lines of the parts, in order: whole lines in place, a line cut between
 * parts copied whole first (a seam). 1, 0: cannot vouch, -1: memory error. */
static int scan_parts(BlockObject *self, Py_ssize_t capacity, Py_ssize_t max_line,
                      Fragment *open, int simd) {
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
            status = scan_lines(simd, seam, seam + len, out, capacity, max_line, &self->n_lines,
                                &self->n_rows, &self->n_fast);
            n_open = open_len = 0;
            start = first + 1;
        }
        const char *last = stop; /* just past the part's last '\n' */
        while (last[-1] != '\n')
            last--;
        if (status == 1 && start < last)
            status = scan_lines(simd, start, last, out, capacity, max_line, &self->n_lines,
                                &self->n_rows, &self->n_fast);
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
    PyObject *list, *dicts = Py_None;
    Py_ssize_t max_line, length = 0;
    int status;

    if (!PyArg_ParseTuple(args, "O!n|O:scan", &PyList_Type, &list, &max_line, &dicts))
        return NULL;
    if (dicts != Py_None && !PyObject_TypeCheck(dicts, &DictsType)) {
        PyErr_SetString(PyExc_TypeError, "dictionaries must be a Dictionaries or None");
        return NULL;
    }
    BlockObject *self = PyObject_New(BlockObject, &BlockType);
    if (!self)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(list);
    self->n_parts = self->n_seams = 0;
    self->parts = PyMem_RawMalloc(sizeof(Py_buffer) * (n ? n : 1));
    self->seams = PyMem_RawMalloc(sizeof(char *) * (n ? n : 1));
    Fragment *open = PyMem_RawMalloc(sizeof(Fragment) * (n ? n : 1));
    self->columns = NULL;
    self->n_lines = self->n_rows = self->n_fast = 0;
    memset(&self->out, 0, sizeof(self->out));
    memset(self->remap, 0, sizeof(self->remap));
    self->owner = self->scanned_for = 0;
    if (SHARED && dicts != Py_None) { /* alive while the scan runs: the caller holds it */
        self->scanned_for = ((DictsObject *)dicts)->serial;
        for (int i = 0; i < N_DICTS; i++)
            self->out.shared[i] = &((DictsObject *)dicts)->dicts[i];
    }
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
    int simd = simd_level;
    self->columns = PyMem_RawMalloc((size_t)(capacity ? capacity : 1) * (8 + 4 * 5));
    int ok = self->columns != NULL;
    for (int i = 0; i < N_DICTS; i++) /* sized like the previous block's (no regrowing) */
        ok = ok && dict_init(&self->out.dicts[i], (int32_t)(block_dict_size[i] < capacity
                                                                 ? block_dict_size[i]
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
    status = scan_parts(self, capacity, max_line, open, simd);
    if (status == 1)
        status = finish_rows(&self->out);
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
        if (shared_init(&self->dicts[i]) < 0) {
            Py_DECREF(self);
            return PyErr_NoMemory();
        }
    return (PyObject *)self;
}

static void dicts_dealloc(DictsObject *self) {
    for (int i = 0; i < N_DICTS; i++)
        shared_free(&self->dicts[i]);
    Py_TYPE(self)->tp_free(self);
}

#define STEP 8 /* the slot of the value STEP ahead is fetched while one is looked up */

/* The read's code of each of the block's own values (those the read's
 * dictionary did not hold when the block was scanned), new values added in
 * order of first appearance; 0: one is not UTF-8 (nothing added), -1: memory
 * error (exception set). */
static int remap_block(DictsObject *self, BlockObject *block) {
    /* every value first: one that is not UTF-8 cannot be in the read's dictionary */
    for (int c = 0; c < N_DICTS; c++)
        for (int32_t i = 0; i < block->out.dicts[c].n; i++) {
            const Value *v = &block->out.dicts[c].values[i];
            if (!utf8_valid((const unsigned char *)v->ptr, v->len))
                return 0;
        }
    for (int c = 0; c < N_DICTS; c++) { /* then found, or added in order of first appearance */
        const Dict *local = &block->out.dicts[c];
        Shared *d = &self->dicts[c];
        int32_t *remap = block->remap[c] = PyMem_RawMalloc(sizeof(int32_t) * (local->n + 1));
        if (!remap) {
            PyErr_NoMemory();
            return -1;
        }
        for (int32_t i = 0; i < local->n; i++) {
            const Value *v = &local->values[i];
            if (i + STEP < local->n)
                PREFETCH(&d->table->slots[(uint32_t)v[STEP].hash & d->table->mask]);
            uint32_t slot = 0;
            Key k = key_of(v->ptr, v->len);
            remap[i] = table_find(d->table, v->ptr, v->len, v->hash, k, &slot);
            if (remap[i] < 0 && (remap[i] = shared_add(d, v->ptr, v->len, v->hash, k, slot)) < 0) {
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
    if (block->scanned_for && block->scanned_for != self->serial) {
        PyErr_SetString(PyExc_ValueError,
                        "the block was scanned against another read's dictionaries");
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

/* A block's codes as the read's, as T: the read's (-1 for null) kept, those of
 * the block's own values (-2 - i) translated by remap. */
#define REMAP_CODES(T)                                                                             \
    do {                                                                                           \
        T *to = view->buf;                                                                         \
        for (Py_ssize_t r = 0; r < n; r++) {                                                       \
            int32_t c = codes[r];                                                                  \
            to[r] = (T)(c >= -1 ? c : remap[-2 - c]);                                              \
        }                                                                                          \
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
    Shared *d = &self->dicts[column];
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
        Key k = key_of(p, len);
        uint64_t h = hash_of(p, len, k);
        uint32_t slot = 0;
        int32_t code = table_find(d->table, p, len, h, k, &slot);
        if (code < 0 && (code = shared_add(d, p, len, h, k, slot)) < 0) {
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
    const Shared *d = &self->dicts[column];
    PyObject *list = PyList_New(d->n);
    for (int32_t i = 0; list && i < d->n; i++) {
        const Span *v = &d->values[i];
        PyObject *s = PyUnicode_DecodeUTF8(v->ptr, v->len, "strict");
        if (!s) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, s);
    }
    return list;
}

/* (n, offsets, data): the dictionary as an Arrow string array's buffers (int32
 * offsets, the bytes): the arena's chunks hold the values in code order. */
static PyObject *dicts_arrow(DictsObject *self, PyObject *args) {
    int column;
    if (!PyArg_ParseTuple(args, "i:arrow", &column) || column_index(column) < 0)
        return NULL;
    const Shared *d = &self->dicts[column];
    if (d->used > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a dictionary over 2 GiB");
        return NULL;
    }
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, ((Py_ssize_t)d->n + 1) * 4);
    if (!offsets)
        return NULL;
    int32_t *o = (int32_t *)PyBytes_AS_STRING(offsets);
    o[0] = 0;
    for (int32_t i = 0; i < d->n; i++)
        o[i + 1] = o[i] + (int32_t)d->values[i].len;
    PyObject *data = PyBytes_FromStringAndSize(NULL, d->used);
    if (!data) {
        Py_DECREF(offsets);
        return NULL;
    }
    char *at = PyBytes_AS_STRING(data);
    for (Py_ssize_t i = 0; i < d->n_chunks; at += d->chunk_used[i], i++)
        memcpy(at, d->chunks[i], d->chunk_used[i]);
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

/* simd([name]) -> str: the scanner's SIMD level, set first if a name is given. */
static PyObject *simd(PyObject *module, PyObject *args) {
    const char *name = NULL;
    if (!PyArg_ParseTuple(args, "|s:simd", &name))
        return NULL;
    int level = simd_level;
    if (name) {
        for (level = 0; level < N_SIMD && strcmp(name, SIMD_NAMES[level]) != 0; level++)
            ;
        if (level > simd_best) {
            PyErr_Format(PyExc_ValueError, "SIMD level %R is not available here (best: %s)",
                         PyTuple_GET_ITEM(args, 0), SIMD_NAMES[simd_best]);
            return NULL;
        }
    }
    simd_level = level;
    return PyUnicode_FromString(SIMD_NAMES[level]);
}

static PyMethodDef methods[] = {
    {"simd", simd, METH_VARARGS,
     "simd([level]) -> str\n\n"
     "The scanner's SIMD level ('avx512', 'avx2' or 'none': the portable C path), set "
     "first when given; ValueError for a level this CPU (or build) does not have."},
    {"scan", scan, METH_VARARGS,
     "scan(parts, max_line, dictionaries=None) -> Block | None\n\n"
     "Scan a block of playlog lines given as a list of parts, its values looked up in the "
     "read's dictionaries; None if it cannot vouch for every line."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "fouryousee_data.parse._fastscan",
    "A scanner of playlog NDJSON blocks (see parse/_fast.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__fastscan(void) {
    init_tables();
    init_simd();
    if (PyType_Ready(&BlockType) < 0 || PyType_Ready(&DictsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    /* 5: simd([level]) (the SIMD path, fast_line);
     * 4: scan(parts, max_line, dictionaries): values looked up in the read's dictionaries;
     * 3: scan(parts); Dictionaries.add/sizes, merge into code columns of 1, 2 or 4 bytes;
     * 2: scan() returns a Block, merged by Dictionaries (1 returned per-block values) */
    if (PyModule_AddIntConstant(m, "VERSION", 6) < 0 ||
        PyModule_AddObjectRef(m, "Block", (PyObject *)&BlockType) < 0 ||
        PyModule_AddObjectRef(m, "Dictionaries", (PyObject *)&DictsType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
