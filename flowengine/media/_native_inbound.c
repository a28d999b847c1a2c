/* One tick's G.711 frames of a receiver group in one C pass: decode, power, 8 -> 16 kHz half-band.
 *
 * The numpy path in inbound.py/halfband.py is the reference: this computes the same int16 rows
 * bit for bit (the half-band taps are integers in Q20 and samples int16, so every sum is an exact
 * integer in a double, and rounding is half to even like numpy.rint), the same filter states,
 * and the frames' mean squares exactly (the numpy path sums in float32).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_TAPS 64
#define MAX_FRAME 4096

static int
check(Py_buffer *view, Py_ssize_t need, const char *name)
{
    if (view->len < need) {
        PyErr_Format(PyExc_ValueError, "%s holds %zd bytes, needs %zd", name, view->len, need);
        return -1;
    }
    return 0;
}

/* Four doubles; GCC lowers the operations to AVX2 or to pairs of SSE2 instructions. */
typedef double v4d __attribute__((vector_size(32)));

static inline v4d
load4(const double *p)
{
    v4d v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* acc[i] = sum_k x[i + k] * coeff[k] for i < frame. With symmetric taps (a half-band phase
 * always is) each product serves two inputs; outputs go in blocks of eight held in registers.
 * Every value is an exact integer, so neither the pairing nor the order changes a sum. */
__attribute__((target_clones("avx2", "default"))) static void
filter_row(const double *x, Py_ssize_t frame, const double *coeff, Py_ssize_t taps, int symmetric, double *acc)
{
    Py_ssize_t i = 0;
    if (symmetric) {
        const Py_ssize_t half = taps / 2;
        for (; i + 8 <= frame; i += 8) {
            v4d a0 = {0.0, 0.0, 0.0, 0.0};
            v4d a1 = a0;
            for (Py_ssize_t k = 0; k < half; k++) {
                const double c = coeff[k];
                const v4d cv = {c, c, c, c};
                const double *lo = x + i + k;
                const double *hi = x + i + taps - 1 - k;
                a0 += (load4(lo) + load4(hi)) * cv;
                a1 += (load4(lo + 4) + load4(hi + 4)) * cv;
            }
            memcpy(acc + i, &a0, sizeof a0);
            memcpy(acc + i + 4, &a1, sizeof a1);
        }
    }
    for (; i < frame; i++) {
        double sum = 0.0;
        for (Py_ssize_t k = 0; k < taps; k++) {
            sum += x[i + k] * coeff[k];
        }
        acc[i] = sum;
    }
}

/* The 16 kHz frame: even samples the filtered phase (acc times a power-of-two `scale`, so
 * exact, rounded half to even like numpy.rint, then clipped), odd samples the delayed input.
 * Adding and taking away 1.5 * 2**52 rounds to an integer in the current (nearest-even)
 * rounding mode for |v| < 2**51, without a call per sample. */
__attribute__((target_clones("avx2", "default"))) static void
interleave(const double *acc, const double *copied, Py_ssize_t frame, double scale, int16_t *out)
{
    const double magic = 6755399441055744.0;
    for (Py_ssize_t i = 0; i < frame; i++) {
        double shifted = acc[i] * scale + magic;
        double y = shifted - magic;
        y = y < -32768.0 ? -32768.0 : (y > 32767.0 ? 32767.0 : y);
        out[2 * i] = (int16_t)y;
        out[2 * i + 1] = (int16_t)copied[i];
    }
}

PyDoc_STRVAR(upsample_g711_doc,
"upsample_g711(payloads, table, phase, scale, histories, slots, pcm, wide, powers, /)\n--\n\n"
"Row r of `payloads` (len(slots) rows of equal length) is one G.711 frame of the stream whose\n"
"filter state is row slots[r] of `histories` (float64, len(phase) - 1 samples a row). Rows are\n"
"taken in order and each updates its state, so consecutive frames of one stream chain. Writes\n"
"the int16 frames to `pcm`, the 16 kHz frames to `wide` (filter sums times `scale`, a power of\n"
"two, rounded half to even) and the mean squares to `powers`.");

static PyObject *
upsample_g711(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer payloads, table, phase, histories, slots, pcm, wide, powers;
    double scale;
    if (!PyArg_ParseTuple(args, "y*y*y*dw*y*w*w*w*:upsample_g711", &payloads, &table, &phase, &scale, &histories,
                          &slots, &pcm, &wide, &powers)) {
        return NULL;
    }
    PyObject *result = NULL;
    const Py_ssize_t rows = slots.len / (Py_ssize_t)sizeof(int64_t);
    const Py_ssize_t taps = phase.len / (Py_ssize_t)sizeof(double);
    const Py_ssize_t history = taps - 1;
    const Py_ssize_t copy_delay = history / 2;
    const Py_ssize_t state_rows = histories.len / (Py_ssize_t)(history * sizeof(double));
    Py_ssize_t frame = 0;
    if (taps < 2 || taps > MAX_TAPS) {
        PyErr_Format(PyExc_ValueError, "phase needs 2..%d taps, got %zd", MAX_TAPS, taps);
        goto done;
    }
    int exponent;
    if (frexp(scale, &exponent) != 0.5) {
        PyErr_Format(PyExc_ValueError, "scale must be a power of two, got %g", scale);
        goto done;
    }
    if (table.len != 256 * (Py_ssize_t)sizeof(int16_t)) {
        PyErr_SetString(PyExc_ValueError, "table must be 256 int16 values");
        goto done;
    }
    if (rows == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (payloads.len % rows != 0) {
        PyErr_Format(PyExc_ValueError, "%zd payload bytes do not make %zd equal rows", payloads.len, rows);
        goto done;
    }
    frame = payloads.len / rows;
    if (frame < history || frame > MAX_FRAME) {
        PyErr_Format(PyExc_ValueError, "frame of %zd samples is outside %zd..%d", frame, history, MAX_FRAME);
        goto done;
    }
    if (check(&pcm, rows * frame * 2, "pcm") || check(&wide, rows * frame * 4, "wide") ||
        check(&powers, rows * (Py_ssize_t)sizeof(double), "powers")) {
        goto done;
    }
    const int64_t *slot = slots.buf;
    for (Py_ssize_t r = 0; r < rows; r++) {
        if (slot[r] < 0 || slot[r] >= state_rows) {
            PyErr_Format(PyExc_IndexError, "slot %lld is outside the %zd filter states", (long long)slot[r],
                         state_rows);
            goto done;
        }
    }
    {
        const uint8_t *in = payloads.buf;
        const int16_t *decode = table.buf;
        const double *h = phase.buf;
        double *states = histories.buf;
        int16_t *out = pcm.buf;
        int16_t *out16 = wide.buf;
        double *power = powers.buf;
        double x[MAX_TAPS + MAX_FRAME];
        double coeff[MAX_TAPS];
        double acc[MAX_FRAME];
        int symmetric = taps % 2 == 0;
        for (Py_ssize_t k = 0; k < taps; k++) {
            coeff[k] = h[taps - 1 - k]; /* y[i] = sum_k x[i + k] * h[taps - 1 - k] (numpy.convolve 'valid') */
            symmetric = symmetric && h[k] == h[taps - 1 - k];
        }
        for (Py_ssize_t r = 0; r < rows; r++) {
            double *state = states + slot[r] * history;
            const uint8_t *bytes = in + r * frame;
            int16_t *row = out + r * frame;
            int16_t *row16 = out16 + r * 2 * frame;
            int64_t squares = 0;
            memcpy(x, state, (size_t)history * sizeof(double));
            for (Py_ssize_t i = 0; i < frame; i++) {
                int16_t s = decode[bytes[i]];
                row[i] = s;
                squares += (int64_t)s * s;
                x[history + i] = s;
            }
            power[r] = (double)squares / (double)frame;
            filter_row(x, frame, coeff, taps, symmetric, acc);
            interleave(acc, x + history - copy_delay, frame, scale, row16);
            memcpy(state, x + frame, (size_t)history * sizeof(double));
        }
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&payloads);
    PyBuffer_Release(&table);
    PyBuffer_Release(&phase);
    PyBuffer_Release(&histories);
    PyBuffer_Release(&slots);
    PyBuffer_Release(&pcm);
    PyBuffer_Release(&wide);
    PyBuffer_Release(&powers);
    return result;
}

static PyMethodDef methods[] = {
    {"upsample_g711", upsample_g711, METH_VARARGS, upsample_g711_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native_inbound",
    .m_doc = "Native inbound kernel of the media engine.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__native_inbound(void)
{
    return PyModule_Create(&module);
}
