"""CBOW negative-sampling SGD over one epoch, compiled with numba; the output layer can be frozen.

gensim 4 cannot freeze word2vec's output (context) matrix: ``wv.vectors_lockf`` locks input
vectors only and its CBOW inner loop always updates ``syn1neg``. This kernel is gensim's CBOW step
(``w2v_fast_sentence_cbow_neg``) with a ``learn_hidden`` switch: the context vector ``h`` is the mean
of the window's input vectors; for the target and ``negative`` words drawn from ``cum_table`` the
error ``g = (label - sigmoid(h . c)) * alpha`` is skipped where ``|h . c| >= 6`` as in gensim; the
summed error reaches every window word unscaled (gensim's ``cbow_mean`` convention) and, only when
``learn_hidden`` is true, ``c += g * h``. Frequent words are downsampled with ``sample_int`` and the
window is shrunk by a random ``b`` per position, with gensim's 48-bit linear congruential generator.
The sigmoid is exact, where gensim reads a 1,000-entry table.
"""

from __future__ import annotations

import numpy as np
from embedspec.errors import EmbedspecError

MAX_EXP = 6.0
MAX_SENTENCE_LEN = 10_000  # gensim's limit; longer sentences are cut into chunks before training


def _require_numba():  # -> the numba module
    try:
        import numba
    except ImportError:
        raise EmbedspecError(
            "training CADE needs numba and gensim: pip install 'embedspec-cade[train]'"
        ) from None
    return numba


_compiled = None


def train_epoch(
    corpus: np.ndarray,
    starts: np.ndarray,
    W: np.ndarray,
    C: np.ndarray,
    cum_table: np.ndarray,
    sample_int: np.ndarray,
    *,
    window: int,
    negative: int,
    alpha: float,
    min_alpha: float,
    words_done: int,
    words_total: int,
    learn_hidden: bool,
    rng_state: int,
    compute_loss: bool = False,
) -> tuple[int, int, float, int]:
    """Train one pass over ``corpus`` in place.

    ``corpus``: ``(n,) int32`` word ids (rows of ``W`` and ``C``); sentence ``s`` is
    ``corpus[starts[s]:starts[s+1]]``. ``W`` (input vectors) and ``C`` (context vectors) are
    ``(V, dim) float32``, C-contiguous. The learning rate decays linearly from ``alpha`` to
    ``min_alpha`` over ``words_total`` raw words, of which ``words_done`` are behind us.
    Returns ``(rng_state, trained positions, summed loss, raw words seen)``.
    """
    global _compiled
    if _compiled is None:
        _compiled = _compile()
    if starts.shape[0] > 1 and int(np.diff(starts).max()) > MAX_SENTENCE_LEN:
        raise EmbedspecError(f"internal: a sentence is longer than {MAX_SENTENCE_LEN} tokens; chunk it first")
    if not (W.flags.c_contiguous and C.flags.c_contiguous and W.dtype == np.float32 and C.dtype == np.float32):
        raise EmbedspecError("internal: W and C must be C-contiguous float32 matrices")
    state, trained, loss, raw = _compiled(
        corpus, starts, W, C, cum_table, sample_int, np.int64(window), np.int64(negative),
        np.float32(alpha), np.float32(min_alpha), np.int64(words_done), np.int64(max(words_total, 1)),
        bool(learn_hidden), np.uint64(rng_state), bool(compute_loss),
    )
    return int(state), int(trained), float(loss), int(raw)


def _compile():
    numba = _require_numba()
    return numba.njit(cache=True, nogil=True, fastmath=True)(_epoch)


def _epoch(corpus, starts, W, C, cum_table, sample_int, window, negative, alpha0, min_alpha,
           words_done, words_total, learn_hidden, state, compute_loss):
    mult = np.uint64(25214903917)
    add = np.uint64(11)
    mask = np.uint64(281474976710655)
    shift = np.uint64(16)
    dim = W.shape[1]
    neu1 = np.zeros(dim, dtype=np.float32)
    work = np.zeros(dim, dtype=np.float32)
    buf = np.zeros(MAX_SENTENCE_LEN, dtype=np.int64)
    n_table = cum_table.shape[0]
    table_max = np.uint64(cum_table[n_table - 1])
    trained = 0
    raw = 0
    loss = 0.0
    for s in range(starts.shape[0] - 1):
        progress = (words_done + raw) / words_total
        alpha = np.float32(alpha0 - (alpha0 - min_alpha) * min(progress, 1.0))
        lo = starts[s]
        hi = starts[s + 1]
        raw += hi - lo
        n = 0
        for p in range(lo, hi):
            w = corpus[p]
            rnd = state >> shift
            state = (state * mult + add) & mask
            if np.uint64(sample_int[w]) < rnd:
                continue
            buf[n] = w
            n += 1
        for i in range(n):
            b = np.int64((state >> shift) % np.uint64(window))
            state = (state * mult + add) & mask
            j = max(0, i - window + b)
            k = min(n, i + window + 1 - b)
            count = 0
            neu1[:] = 0.0
            for m in range(j, k):
                if m != i:
                    count += 1
                    row = W[buf[m]]
                    for t in range(dim):
                        neu1[t] += row[t]
            if count == 0:
                continue
            inv = np.float32(1.0 / count)
            for t in range(dim):
                neu1[t] *= inv
            work[:] = 0.0
            word = buf[i]
            for d in range(negative + 1):
                if d == 0:
                    target = word
                    label = np.float32(1.0)
                else:
                    draw = (state >> shift) % table_max
                    state = (state * mult + add) & mask
                    target = np.searchsorted(cum_table, draw, side="left")
                    if target == word:
                        continue
                    label = np.float32(0.0)
                crow = C[target]
                f = np.float32(0.0)
                for t in range(dim):
                    f += neu1[t] * crow[t]
                if f <= -MAX_EXP or f >= MAX_EXP:
                    continue
                sig = np.float32(1.0 / (1.0 + np.exp(-f)))
                if compute_loss:
                    loss += -np.log(sig) if d == 0 else -np.log(1.0 - sig)
                g = (label - sig) * alpha
                for t in range(dim):
                    work[t] += g * crow[t]
                if learn_hidden:
                    for t in range(dim):
                        crow[t] += g * neu1[t]
            for m in range(j, k):
                if m != i:
                    row = W[buf[m]]
                    for t in range(dim):
                        row[t] += work[t]
            trained += 1
    return state, trained, loss, raw
