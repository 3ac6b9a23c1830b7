"""zsl_utils: the small tested package behind the transfer- and zero-shot-learning course.

Notebooks use `import zsl_utils as zu` and named imports from the topic modules: `repro` (the
base seed, the seeds derived from it, the device, the setup cell), `style` (the display style
and CPU threads the setup cell applies), `stats` (confidence
intervals for the claims a notebook makes), `data` (animal silhouettes, attributes, splits;
Hangul syllables), `hangul` (jamo, letter classifiers, syllables composed from letters),
`wordvec` (GloVe as gensim KeyedVectors), `metrics` (per-class accuracy, GZSL, calibrated
stacking) and `report` (the key result a notebook hands to `make run`), `models` (a small CNN
for layer transfer), `train` (a training loop with a progress bar), `stopping` (early stopping on a
validation score, for one model or several trained together), `losses` (L2-SP, ...),
`transfer` (few-shot transfer helpers), `progressive` (multitask networks, progressive
networks), `layers` (gradient reversal and domain-adversarial training), `adaptation` (the proxy
A-distance and reverse validation: measuring and choosing without target labels), `zeroshot` (DAP,
ESZSL, ConSE, hubness, the seen-unseen curve, ...), `protocol` (the zero-shot evaluation
protocol: validation split, backbone features, γ choice, one results row), `benchmark` (the
zero-shot methods on shared features, one call each), `text` (captions and a text encoder for
CLIP-style training), `translation` (multilingual zero-shot translation), `generative`
(synthesised features for unseen classes), `selftaught` (features learned from unlabelled
data), `course_map` (the lecture's map, defined once for every notebook) and `schematics`
(drawings of the models of notebooks 02, 03, 07 and 08).
"""

from . import (
    adaptation,
    benchmark,
    course_map,
    data,
    generative,
    hangul,
    layers,
    losses,
    metrics,
    models,
    progressive,
    protocol,
    report,
    repro,
    schematics,
    selftaught,
    stats,
    stopping,
    style,
    text,
    train,
    transfer,
    translation,
    wordvec,
    zeroshot,
)
from .data import load_animals, load_hangul
from .metrics import calibrated_stacking, gzsl_scores, per_class_accuracy
from .report import key_result
from .repro import base_seed, get_device, seeds, set_seed, setup
from .wordvec import load_glove

__version__ = "0.1.0"

__all__ = [
    "adaptation",
    "benchmark",
    "course_map",
    "schematics",
    "data",
    "generative",
    "hangul",
    "selftaught",
    "stats",
    "stopping",
    "style",
    "layers",
    "losses",
    "metrics",
    "models",
    "train",
    "transfer",
    "progressive",
    "protocol",
    "text",
    "translation",
    "repro",
    "report",
    "wordvec",
    "zeroshot",
    "load_animals",
    "load_hangul",
    "load_glove",
    "per_class_accuracy",
    "gzsl_scores",
    "calibrated_stacking",
    "key_result",
    "set_seed",
    "get_device",
    "base_seed",
    "seeds",
    "setup",
]
