"""The counter-based generator (Philox4x32-10 + Box-Muller, cpp/include/kktunlearn/random.hpp).

Checked against an independent pure-numpy Philox4x32-10 written here from the published algorithm
(Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11) and the
known-answer vectors of Random123's tests/kat_vectors (https://github.com/DEShawResearch/random123,
the three "philox4x32 10" lines: counter[4] key[2] -> output[4]).
"""

import math
import pickle

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn import _core, _random, _span

# Random123 tests/kat_vectors, "philox4x32 10" lines: (counter, key, expected)
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff),
     (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
    ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
     (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
]


def ref_philox(ctr, key):
    """Pure numpy Philox4x32-10 over arrays: ctr (4, N) uint64 holding 32-bit words, key (2,) ints."""
    M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
    mask = np.uint64(0xFFFFFFFF)
    c = [np.asarray(w, dtype=np.uint64) & mask for w in ctr]
    k0, k1 = int(key[0]), int(key[1])
    for r in range(10):
        if r:
            k0 = (k0 + 0x9E3779B9) & 0xFFFFFFFF
            k1 = (k1 + 0xBB67AE85) & 0xFFFFFFFF
        p0 = M0 * c[0]
        p1 = M1 * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & mask, (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1),
             p0 & mask]
    return c


def ref_normals(seed, stream, rows, cols):
    """The documented mapping (kktunlearn._random) with numpy's log/cos/sin."""
    i = np.repeat(np.arange(rows, dtype=np.uint64), cols)
    j = np.tile(np.arange(cols, dtype=np.uint64), rows)
    q = j >> np.uint64(1)
    r = ref_philox([q & np.uint64(0xFFFFFFFF), q >> np.uint64(32), i, np.full_like(i, stream)],
                   (seed & 0xFFFFFFFF, seed >> 32))
    a = (r[0] << np.uint64(32)) | r[1]
    b = (r[2] << np.uint64(32)) | r[3]
    u1 = ((a >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * 2.0 ** -53
    u2 = (b >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    rad = np.sqrt(-2.0 * np.log(u1))
    z = np.where(j % np.uint64(2) == 0, rad * np.cos(2 * np.pi * u2), rad * np.sin(2 * np.pi * u2))
    return z.reshape(rows, cols)


@pytest.mark.parametrize("ctr,key,want", KAT)
def test_known_answer_vectors(ctr, key, want):
    assert tuple(_core.philox4x32_10(list(ctr), list(key))) == want
    got = ref_philox([np.array([w]) for w in ctr], key)
    assert tuple(int(w[0]) for w in got) == want


def test_cpp_philox_matches_reference_on_many_counters():
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**32, size=(50, 6), dtype=np.uint64)
    ref = ref_philox([words[:, k] for k in range(4)], (0, 0))  # key varies below
    for row in words[:10]:
        c, k = [int(w) for w in row[:4]], [int(w) for w in row[4:]]
        r = ref_philox([np.array([w], dtype=np.uint64) for w in c], k)
        assert list(_core.philox4x32_10(c, k)) == [int(w[0]) for w in r]
    assert len(ref) == 4


@pytest.mark.parametrize("seed,stream", [(0, 0), (12345, 0), (2**64 - 1, 1), (0xDEADBEEF12345678, 3)])
def test_normals_match_reference_mapping(seed, stream):
    z = _random.normal_block(seed, stream, 0, 7, 0, 301)
    ref = ref_normals(seed, stream, 7, 301)
    # own polynomial ln/sin/cos against libm: a few ulps of the result
    np.testing.assert_allclose(z, ref, rtol=1e-13, atol=1e-14)


def test_blocks_bit_identical_any_threads_any_order():
    seed, m, d = 77, 37, 10007
    full = {nt: _random.normal_block(seed, 0, 0, m, 0, d, n_threads=nt) for nt in (1, 2, 3)}
    assert np.array_equal(full[1], full[2]) and np.array_equal(full[1], full[3])
    # blocks of odd shapes, assembled in a shuffled order (odd column offsets split Box-Muller pairs)
    out = np.full((m, d), np.nan)
    rr = [0, 5, 6, 19, m]
    cc = [0, 1, 4096, 4099, 9000, d]
    tiles = [(a, b, c, e) for a, b in zip(rr, rr[1:]) for c, e in zip(cc, cc[1:])]
    for t in np.random.default_rng(3).permutation(len(tiles)):
        a, b, c, e = tiles[t]
        out[a:b, c:e] = _random.normal_block(seed, 0, a, b - a, c, e - c, n_threads=int(t % 3) + 1)
    assert np.array_equal(out, full[1])


def test_float32_is_one_rounding_of_the_float64_product():
    z64 = _random.normal_block(5, 0, 0, 4, 0, 999, scale=0.37)
    z32 = _random.normal_block(5, 0, 0, 4, 0, 999, scale=0.37, dtype=np.float32)
    assert z32.dtype == np.float32
    assert np.array_equal(z32, z64.astype(np.float32))
    assert np.array_equal(z64, 0.37 * _random.normal_block(5, 0, 0, 4, 0, 999))


def test_statistics_within_bounds():
    z = _random.normal_block(2024, 0, 0, 200, 0, 10000).ravel()  # N = 2e6
    N = z.size
    # mean ~ N(0, 1/N), variance ~ N(1, 2/N): 5-sigma bounds
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1.0) < 5 * math.sqrt(2.0 / N)
    # skewness and excess kurtosis (standard errors sqrt(6/N), sqrt(24/N))
    assert abs(np.mean(z ** 3)) < 5 * math.sqrt(6.0 / N) + 1e-3
    assert abs(np.mean(z ** 4) - 3.0) < 5 * math.sqrt(96.0 / N)
    # tail mass P(|z| > 3) = 0.0026998 (binomial 5-sigma)
    p = 0.0026997960632601866
    assert abs(np.mean(np.abs(z) > 3) - p) < 5 * math.sqrt(p * (1 - p) / N)
    # Kolmogorov-Smirnov against the normal CDF: 99.9% critical value 1.95 / sqrt(N)
    from scipy import stats

    assert stats.kstest(z[:200000], "norm").statistic < 1.95 / math.sqrt(200000)


def test_pairwise_correlations_within_bounds():
    # neighbours (the two members of one Box-Muller pair, and across pairs), rows, streams and seeds:
    # sample correlations ~ N(0, 1/N), 5-sigma bound
    Z = _random.normal_block(99, 0, 0, 64, 0, 20000)
    N = Z.size // 2
    bound = 5 / math.sqrt(N)
    assert abs(np.corrcoef(Z[:, 0::2].ravel(), Z[:, 1::2].ravel())[0, 1]) < bound   # within a pair
    assert abs(np.corrcoef(Z[:, 1:-1:2].ravel(), Z[:, 2::2].ravel())[0, 1]) < bound   # across pairs
    assert abs(np.corrcoef(Z[0::2].ravel(), Z[1::2].ravel())[0, 1]) < bound           # adjacent rows
    S = _random.normal_block(99, 1, 0, 64, 0, 20000)
    T = _random.normal_block(100, 0, 0, 64, 0, 20000)
    b2 = 5 / math.sqrt(Z.size)
    assert abs(np.corrcoef(Z.ravel(), S.ravel())[0, 1]) < b2                           # streams
    assert abs(np.corrcoef(Z.ravel(), T.ravel())[0, 1]) < b2                           # seeds
    # the squared pair members (Box-Muller's radius couples them): corr(z0^2, z1^2) = 0 for exact normals
    assert abs(np.corrcoef(Z[:, 0::2].ravel() ** 2, Z[:, 1::2].ravel() ** 2)[0, 1]) < bound


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_preacts_equal_generate_then_multiply(dtype):
    rng = np.random.default_rng(1)
    for n, d, m in [(5, 3000, 7), (3, 70, 200), (9, 5000, 1), (1, 1, 1)]:
        X = rng.standard_normal((n, d)).astype(dtype)
        W0 = _random.normal_block(11, 0, 0, m, 0, d, scale=0.01, dtype=dtype)
        ref = X.astype(np.float64) @ W0.astype(np.float64).T
        res = {nt: _core.normal_preacts(X, 11, 0, m, 0.01, nt) for nt in (1, 2, 3)}
        Z, rowsq = res[1]
        assert Z.dtype == dtype and Z.shape == (n, m) and rowsq.shape == (m,)
        tol = 1e-12 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(Z, ref, rtol=tol, atol=tol * np.abs(ref).max())
        np.testing.assert_allclose(rowsq, np.sum(W0.astype(np.float64) ** 2, axis=1), rtol=1e-12)
        for nt in (2, 3):
            assert np.array_equal(res[nt][0], Z) and np.array_equal(res[nt][1], rowsq)
        # no rows: the norms alone
        assert np.array_equal(_core.normal_preacts(X[:0], 11, 0, m, 0.01, 2)[1], rowsq)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_preacts_with_extra_rows(dtype):
    # normal_preacts(X, ..., E) also returns X E^T from the same pass over X: Z0 and the norms are the very
    # bits of the call without E, X E^T is the product to rounding (float32: summed in double), and every
    # output is the same for any thread count, including chunked d (> 2048 columns) and m over one row block
    rng = np.random.default_rng(2)
    for n, d, m, k in [(5, 3000, 7, 4), (3, 70, 200, 9), (40, 9000, 150, 20), (1, 1, 1, 1), (6, 600, 0, 3)]:
        X = rng.standard_normal((n, d)).astype(dtype)
        E = rng.standard_normal((k, d)).astype(dtype)
        plain = _core.normal_preacts(X, 11, 0, m, 0.01, 2)
        res = {nt: _core.normal_preacts(X, 11, 0, m, 0.01, nt, E) for nt in (1, 2, 3)}
        Z, rowsq, XE = res[1]
        assert XE.dtype == dtype and XE.shape == (n, k)
        assert np.array_equal(Z, plain[0]) and np.array_equal(rowsq, plain[1])
        ref = X.astype(np.float64) @ E.astype(np.float64).T
        tol = 1e-12 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(XE, ref, rtol=tol, atol=tol * np.abs(ref).max())
        for nt in (2, 3):
            assert all(np.array_equal(a, b) for a, b in zip(res[nt], res[1]))
    with pytest.raises(ValueError, match="as many columns"):
        _core.normal_preacts(X, 11, 0, 3, 0.01, 1, np.ascontiguousarray(E[:, :-1]))


def test_seeded_init_is_the_documented_draw():
    m, d, scale = 11, 301, 0.25
    init = _span.SeededInit(42, scale, m, d)
    ref = scale * _random.normal_block(42, 0, 0, m, 0, d)
    np.testing.assert_allclose(ref, scale * ref_normals(42, 0, m, d), rtol=1e-13, atol=1e-14)
    assert np.array_equal(_span.init_full(init, np.float64), ref)
    assert np.array_equal(np.concatenate([b for _, _, b in init.blocks(np.float64)]), ref)
    X = np.random.default_rng(0).standard_normal((5, d))
    Z0, sq = _span.init_preacts(init, X, 0)
    np.testing.assert_allclose(Z0, X @ ref.T, rtol=1e-12, atol=1e-14)
    assert sq == pytest.approx(float(np.sum(ref * ref)), rel=1e-13)


def test_model_init_is_a_function_of_the_seed():
    X = np.random.default_rng(0).standard_normal((6, 50)) / math.sqrt(50)
    y = np.array([1.0, -1, 1, -1, 1, -1])
    net = kk.TwoLayerReLU(width=8, random_state=9, init_scale=0.1, max_iter=0, representation="primal").fit(X, y)
    assert np.array_equal(net.W_, 0.1 * _random.normal_block(9, 0, 0, 8, 0, 50))
    # a Generator gives one 64-bit draw as the seed
    g = np.random.default_rng(5)
    s = int(np.random.default_rng(5).integers(0, 2**64, dtype=np.uint64))
    net2 = kk.TwoLayerReLU(width=8, random_state=g, init_scale=0.1, max_iter=0, representation="span").fit(X, y)
    assert np.array_equal(net2.W_, 0.1 * _random.normal_block(s, 0, 0, 8, 0, 50))
    f32 = kk.TwoLayerReLU(width=8, random_state=9, init_scale=0.1, max_iter=0, dtype=np.float32,
                          representation="primal").fit(X, y)
    assert np.array_equal(f32.W_, (0.1 * _random.normal_block(9, 0, 0, 8, 0, 50)).astype(np.float32))


def test_bad_random_state():
    with pytest.raises(ValueError, match="2\\*\\*64"):
        _random.seed_from_random_state(-1)
    with pytest.raises(ValueError, match="2\\*\\*64"):
        _random.seed_from_random_state(2**64)
    with pytest.raises(TypeError, match="random_state"):
        _random.seed_from_random_state("seed")


def test_legacy_pcg64_pickle_still_loads():
    # kktunlearn 0.1.0 pickled SeededInit as a numpy PCG64 state: it must keep its draw.
    legacy = _span.PCG64Init(np.random.default_rng(42).bit_generator.state, 0.5, 3, 40)
    st = dict(legacy.__dict__)
    obj = _span.SeededInit.__new__(_span.SeededInit)
    obj.__setstate__(st)
    assert isinstance(obj, _span.PCG64Init)
    ref = 0.5 * np.random.default_rng(42).standard_normal((3, 40))
    assert np.array_equal(_span.init_full(obj, np.float64), ref)
    assert np.array_equal(_span.init_full(pickle.loads(pickle.dumps(obj)), np.float64), ref)


# ----------------------------------------------------------------------------- data generators
def _traced_peak(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_data_generators_are_the_documented_draws():
    from kktunlearn import datasets as D

    n, d = 7, 501
    X, y = D.near_orthogonal(n, d, seed=4)
    assert np.array_equal(X, _random.normal_block(4, 1, 0, n, 0, d, scale=1.0 / math.sqrt(d)))
    np.testing.assert_allclose(X, ref_normals(4, 1, n, d) / math.sqrt(d), rtol=1e-13, atol=1e-15)
    gm = D.gaussian_mixture(n, d, seed=4)
    mu_dir = ref_normals(4, 2, 1, d)[0]
    np.testing.assert_allclose(gm.mu, d ** -0.25 * mu_dir / np.linalg.norm(mu_dir), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gm.X, gm.y_clean[:, None] * gm.mu + ref_normals(4, 1, n, d) / math.sqrt(d),
                               rtol=1e-12, atol=1e-14)
    Xc, _ = D.correlated(n, d, 0.3, seed=4)
    c = mu_dir / np.linalg.norm(mu_dir)
    np.testing.assert_allclose(Xc, math.sqrt(0.3) * c + math.sqrt(0.7) * ref_normals(4, 1, n, d) / math.sqrt(d),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["near_orthogonal", "mixture", "correlated"])
def test_data_float32_threads_and_memory(name):
    from kktunlearn import datasets as D

    n, d = 20, 200000

    def make(dtype, nt):
        if name == "near_orthogonal":
            return D.near_orthogonal(n, d, seed=1, dtype=dtype, n_threads=nt)[0]
        if name == "mixture":
            return D.gaussian_mixture(n, d, seed=1, dtype=dtype, n_threads=nt).X
        return D.correlated(n, d, 0.2, seed=1, dtype=dtype, n_threads=nt)[0]

    X64 = make(np.float64, 1)
    X32, peak = _traced_peak(lambda: make(np.float32, 2))
    assert X32.dtype == np.float32 and X32.flags.c_contiguous
    # each float32 entry is the float64 value rounded once
    assert np.array_equal(X32, X64.astype(np.float32))
    assert np.array_equal(make(np.float64, 3), X64)
    # memory: the output (plus d float64 numbers for mu / c), never a float64 n x d temporary
    assert peak < X32.nbytes + 2 * 8 * d + (1 << 20)


def test_mixture_test_sampler_streams():
    from kktunlearn import datasets as D

    gm = D.gaussian_mixture(5, 300, seed=2, dtype=np.float32)
    a, b = gm.test(4), gm.test(4)
    assert a[0].dtype == np.float32 and not np.array_equal(a[0], b[0])
    # a fresh sample is stream 4 + k of the mixture's seed: rows = y mu + z / sqrt(d)
    gm2 = D.gaussian_mixture(5, 300, seed=2)
    Xt, yt = gm2.test(4, clean=True)
    np.testing.assert_allclose(Xt, yt[:, None] * gm2.mu + ref_normals(2, 4, 4, 300) / math.sqrt(300), rtol=1e-12,
                               atol=1e-14)
    assert not np.array_equal(gm2.test(4, seed=2)[0], gm2.X[:4])  # seeded test points are not training rows


def test_model_file_records_the_generator(tmp_path):
    import json
    import zipfile

    X = _random.normal_block(1, 1, 0, 8, 0, 300, scale=1 / math.sqrt(300))
    y = np.array([1.0, -1] * 4)
    for rep in ("span", "primal"):
        net = kk.TwoLayerReLU(width=30, random_state=2**63 + 5, max_iter=50, representation=rep).fit(X, y)
        path = tmp_path / f"{rep}.kktu"
        net.save(path)
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(np.load(zf.open("__meta__.npy")).tobytes())
        assert meta["rng"] == {"name": "philox4x32-10+box-muller", "version": 1}
        if rep == "span":
            ini = meta["state"]["init"]
            assert ini["generator"] == meta["rng"] and ini["seed"] == 2**63 + 5
        back = kk.load(path)
        assert np.array_equal(back.decision_function(X), net.decision_function(X))
        assert np.array_equal(back.W_, net.W_)
