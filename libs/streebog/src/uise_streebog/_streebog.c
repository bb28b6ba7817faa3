/*
 * Streebog (GOST R 34.11-2012 / GOST 34.11-2015, RFC 6986): 512- and 256-bit digests.
 *
 * Written for UISE from the standard's description. A 64-byte block is eight 64-bit words, word i
 * being bytes 8i..8i+7 read little-endian: the byte order of the standard's reference code, of
 * uise_common.pki.gost.streebog (the pure-Python fallback) and of NCA RK's software. The S, P and L
 * steps together (LPS) are eight look-ups per output word in the precomputed tables of tables.h.
 * The GIL is released for long inputs, so the signature service can hash on several threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "tables.h"

/* Inputs at least this long are hashed without the GIL (about 0.1 ms of work). */
#define NOGIL_THRESHOLD 8192

typedef struct {
    uint64_t h[8];
    uint64_t n[8];     /* bits processed, mod 2^512 */
    uint64_t sigma[8]; /* sum of the message blocks, mod 2^512 */
} streebog_state;

static inline uint64_t load64_le(const unsigned char *p)
{
    /* byte by byte, so it is right on any endianness; compilers fuse it into one load */
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void store64_le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* out = L(P(S(x))); out and x must not overlap. */
static inline void lps(uint64_t out[8], const uint64_t x[8])
{
    for (int j = 0; j < 8; j++) {
        const int s = 8 * j;
        out[j] = LPS_T[0][(x[0] >> s) & 0xff] ^ LPS_T[1][(x[1] >> s) & 0xff] ^
                 LPS_T[2][(x[2] >> s) & 0xff] ^ LPS_T[3][(x[3] >> s) & 0xff] ^
                 LPS_T[4][(x[4] >> s) & 0xff] ^ LPS_T[5][(x[5] >> s) & 0xff] ^
                 LPS_T[6][(x[6] >> s) & 0xff] ^ LPS_T[7][(x[7] >> s) & 0xff];
    }
}

/* h = g_N(h, m) = E(LPS(h ^ N), m) ^ h ^ m */
static void compress(uint64_t h[8], const uint64_t n[8], const uint64_t m[8])
{
    uint64_t k[8], s[8], t[8];
    int i, r;

    for (i = 0; i < 8; i++)
        t[i] = h[i] ^ n[i];
    lps(k, t);
    for (i = 0; i < 8; i++)
        t[i] = k[i] ^ m[i];
    for (r = 0; r < 12; r++) {
        lps(s, t);                       /* LPS(X[K_r](state)) */
        for (i = 0; i < 8; i++)
            t[i] = k[i] ^ ROUND_C[r][i];
        lps(k, t);                       /* K_{r+1} = LPS(K_r ^ C_r) */
        for (i = 0; i < 8; i++)
            t[i] = s[i] ^ k[i];
    }
    for (i = 0; i < 8; i++)
        h[i] ^= t[i] ^ m[i];
}

/* a = a + b mod 2^512, both as eight little-endian words */
static inline void add512(uint64_t a[8], const uint64_t b[8])
{
    uint64_t carry = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t sum = a[i] + b[i];
        uint64_t c1 = sum < a[i];
        uint64_t sum2 = sum + carry;
        carry = c1 | (sum2 < sum);
        a[i] = sum2;
    }
}

static inline void add_bits(uint64_t n[8], uint64_t bits)
{
    const uint64_t b[8] = {bits, 0, 0, 0, 0, 0, 0, 0};
    add512(n, b);
}

static void block_words(uint64_t m[8], const unsigned char *p)
{
    for (int i = 0; i < 8; i++)
        m[i] = load64_le(p + 8 * i);
}

/* The whole hash of data[0..len) into out (64 or 32 bytes). */
static void streebog(const unsigned char *data, Py_ssize_t len, int size, unsigned char *out)
{
    static const uint64_t zero[8] = {0};
    streebog_state st;
    uint64_t m[8];
    unsigned char last[64];
    Py_ssize_t rest = len % 64, whole = len - rest, i;

    /* the 256-bit variant starts from the IV of 0x01 bytes, the 512-bit one from zeros */
    for (i = 0; i < 8; i++)
        st.h[i] = size == 64 ? 0 : 0x0101010101010101ULL;
    memset(st.n, 0, sizeof st.n);
    memset(st.sigma, 0, sizeof st.sigma);

    for (i = 0; i < whole; i += 64) {
        block_words(m, data + i);
        compress(st.h, st.n, m);
        add_bits(st.n, 512);
        add512(st.sigma, m);
    }
    /* the remainder (possibly empty), padded with 0x01 then zeros */
    memset(last, 0, sizeof last);
    if (rest)
        memcpy(last, data + whole, (size_t)rest);
    last[rest] = 0x01;
    block_words(m, last);
    compress(st.h, st.n, m);
    add_bits(st.n, 8 * (uint64_t)rest);
    add512(st.sigma, m);
    compress(st.h, zero, st.n);
    compress(st.h, zero, st.sigma);

    {
        unsigned char full[64];
        for (i = 0; i < 8; i++)
            store64_le(full + 8 * i, st.h[i]);
        /* Streebog-256 is the upper half of the final state */
        memcpy(out, size == 64 ? full : full + 32, (size_t)size);
    }
}

static PyObject *hash_buffer(PyObject *arg, int size)
{
    Py_buffer view;
    unsigned char out[64];

    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (view.len >= NOGIL_THRESHOLD) {
        Py_BEGIN_ALLOW_THREADS
        streebog((const unsigned char *)view.buf, view.len, size, out);
        Py_END_ALLOW_THREADS
    } else {
        streebog((const unsigned char *)view.buf, view.len, size, out);
    }
    PyBuffer_Release(&view);
    return PyBytes_FromStringAndSize((const char *)out, size);
}

static PyObject *py_streebog512(PyObject *self, PyObject *arg)
{
    (void)self;
    return hash_buffer(arg, 64);
}

static PyObject *py_streebog256(PyObject *self, PyObject *arg)
{
    (void)self;
    return hash_buffer(arg, 32);
}

static PyMethodDef methods[] = {
    {"streebog512", py_streebog512, METH_O,
     "streebog512(data, /) -> bytes\n--\n\nThe 64-byte Streebog-512 digest of a bytes-like object."},
    {"streebog256", py_streebog256, METH_O,
     "streebog256(data, /) -> bytes\n--\n\nThe 32-byte Streebog-256 digest of a bytes-like object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_streebog",
    "Streebog (GOST R 34.11-2012) in C; see uise_streebog.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__streebog(void)
{
    return PyModule_Create(&module);
}
