"""The ``adapt`` variant's config (:mod:`reflect.variants.adapt`, ``reflect adapt``): what trains, the
site's data, the adversarial family member and the loss weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from reflect.losses.adversarial import GanMode
from reflect.nn.unet import OutputForm
from reflect.variants.base import VariantConfig

AdaptMethod = Literal["none", "cyclegan", "unit"]
AdapterForm = Literal["lora", "full"]
PairGlass = Literal["resynthesis", "site", "site-mean", "site-floor"]
METHODS: tuple[str, ...] = ("none", "cyclegan", "unit")


@dataclass
class AdaptConfig(VariantConfig):
    lr: float = 5e-4  # adapters; `reflect adapt --full` uses 5e-5
    beta1: float = 0.9
    init: str = "none"
    # the base remover's architecture (copied from its file by `reflect adapt`)
    ngf: int = 32
    n_bottleneck: int = 3
    n_refine: int = 0
    n_context: int = 0
    output: OutputForm = "layers"
    base: str = ""  # the model adapted (a record: the run's checkpoints hold its weights)
    # what trains
    adapter: AdapterForm = "lora"
    adapter_rank: int = 4
    adapter_targets: list[str] = field(
        default_factory=lambda: ["dec3", "dec2", "dec1", "ref3", "ref2", "ref1", "head", "gain"]
    )
    # the site (read by reflect.data.site)
    site: str = ""  # folder of the site's window crops
    clean: str = ""  # folder of clean images of the same domain ("" = synthetic clean targets)
    anchor_fraction: float = 0.25  # share of anchor pairs from the base recipe (data.kind: synthetic)
    site_layer_fraction: float = 0.5  # share of re-synthesised reflections cut from the site's own crops
    # the adversarial family member
    method: AdaptMethod = "none"
    ndf: int = 32
    n_layers_d: int = 3
    gan_mode: GanMode = "lsgan"
    ngf_back: int = 16  # width of F: B -> A (cyclegan)
    n_blocks_back: int = 2
    # loss weights
    lambda_resynthesis: float = 1.0
    lambda_composition: float = 1.0
    lambda_identity: float = 1.0
    lambda_anchor: float = 1.0
    lambda_adv: float = 0.01
    lambda_cycle: float = 1.0
    lambda_vae: float = 1.0
    lambda_kl: float = 0.01
    lambda_colour: float = 0.0  # > 0 only with clean crops of the site's camera (--match-colour)
    colour_momentum: float = 0.95  # running moments of the cleaned site crops (0: this batch alone)
    clean_pair_fraction: float = 0.0  # share of pairs made from the clean crops (--clean-pairs)
    lambda_clean_pairs: float = 1.0
    clean_pair_calibrate: bool = True  # scale the pairs' inputs to the site crops' mean brightness
    clean_pair_glass: PairGlass = (
        "resynthesis"  # the pairs' glass: re-synthesis, the site's own, its mean, a crop's floor
    )
    identity_max_faces: int = 2  # faces per batch for the identity term (about 0.2 s each on a CPU)
