"""The training configuration: one plain dataclass, built by the management command or a test."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

SPLITS = ("location", "sequence", "random")
BALANCING = ("weights", "sampler", "none")
# Category names that mean "nothing to see": downsampled by empty_keep, mapped to no animal.
EMPTY_NAMES = ("empty", "blank", "nothing", "none")
# Classes that are not animals at all (camera-trap "vehicle" frames): no animal, like empties.
NO_ANIMAL_NAMES = (*EMPTY_NAMES, "no animal", "vehicle", "car")


@dataclass
class TrainingConfig:
    output: Path
    # data: exactly one source
    coco: Path | None = None
    images: Path | None = None
    folders: Path | None = None
    records: list[dict] | None = None  # already-built records (e.g. verified observations)
    # model
    arch: str = "resnet50"
    pretrained: str = "auto"  # auto | none | path to an ImageNet state_dict
    # training
    freeze_epochs: int = 1
    epochs: int = 5
    lr: float | None = None  # None: lr_find
    lr_find_iters: int = 30
    img_size: int | None = None  # None: the architecture's serving size
    batch_size: int = 16
    device: str = "auto"
    seed: int = 42
    patience: int = 3
    balance: str = "weights"
    # data options
    empty_keep: float = 1.0
    empty_names: tuple[str, ...] = EMPTY_NAMES
    first_frame_only: bool = False
    split: str = "location"
    valid_pct: float = 0.2
    min_per_class: int = 1
    # outputs
    name: str = ""
    label_taxa: dict[str, str | None] = field(default_factory=dict)  # class name -> taxon key (None: no animal)
    allow_unmatched: bool = False
    resume: bool = False
    quiet: bool = False  # no progress bars (set when stdout is not a terminal)
    cache_images_max: int = 5000  # decode once and keep in memory below this many images
    top_losses: int = 9

    def __post_init__(self):
        self.output = Path(self.output)
        sources = [s for s in (self.coco, self.folders, self.records) if s is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one data source: coco (+ images), folders, or records")
        if self.coco is not None and self.images is None:
            self.images = Path(self.coco).parent
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}")
        if self.balance not in BALANCING:
            raise ValueError(f"balance must be one of {', '.join(BALANCING)}")
        if not 0.0 <= self.empty_keep <= 1.0:
            raise ValueError("empty_keep is a fraction between 0 and 1")
        if not 0.0 < self.valid_pct < 1.0:
            raise ValueError("valid_pct is a fraction between 0 and 1 (exclusive)")
        if self.freeze_epochs < 0 or self.epochs < 0 or self.freeze_epochs + self.epochs == 0:
            raise ValueError("train for at least one epoch")

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("records")
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}
