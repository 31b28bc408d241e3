"""``RLConfig``: every setting of ``e2lm-bench rl``, with its default stated once.

Apart from the trainer (as trl keeps its configs, and as ``pretrain_config``) so that the CLI can read
these defaults without importing torch, transformers and trl.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ALGORITHMS = ("rloo", "grpo")  # trl's RLOOTrainer, GRPOTrainer

# The seed's PPO settings (Padovani et al. 2025): KL coefficient and learning rate per reward.
SEED_BETA_LR = (0.2, 1.41e-5)  # bleu, semsim, judge
SEED_BETA_LR_BY_REWARD = {"confidence": (0.02, 5e-6)}


def seed_beta_lr(rewards: list[str]) -> tuple[float, float]:
    """The seed's (β, learning rate) for these rewards; mixing rewards takes the smaller of each (confidence's)."""
    settings = [SEED_BETA_LR_BY_REWARD.get(name, SEED_BETA_LR) for name in rewards]
    return min(beta for beta, _ in settings), min(lr for _, lr in settings)


@dataclass
class RLConfig:
    """RL fine-tuning of a policy on mother prompts with trl's RLOO (default) or GRPO.

    Defaults follow the seed's PPO (20 new tokens, top_p 0.9, temperature 1, β 0.2 and lr 1.41e-5, or β 0.02
    and lr 5e-6 with the confidence reward, 16 prompts a step). What differs from it, because trl 1.16 has
    no PPO that takes Python rewards:

    - several samples per prompt (``num_generations``), whose rewards give the baseline (RLOO: the other
      samples' mean; GRPO: the group's mean and spread): no value head and no GAE;
    - β is fixed (no adaptive KL controller) and the penalty is logp − ref_logp (RLOO: in the reward;
      GRPO: the k3 estimator in the loss); the confidence script's ``abs`` penalty has no counterpart;
    - one gradient step per batch (trl's ``num_iterations=1``), not 4 PPO epochs over minibatches, and
      gradients clipped at norm 1 (trl's default; the seed's Adam did not clip; both keep a constant lr);
    - the update is on the sampled tokens; the seed's BLEU/semsim scripts updated on the re-encoded,
      lower-cased extracted utterance, which trl cannot express;
    - sampling has no top-k (trl's ``top_k=0``; the seed's ``generate`` kept transformers' default 50).
    """

    policy: str  # model folder (a checkpoint of `e2lm-bench train`, or any causal LM folder)
    prompts: Path  # JSONL with a `prompt` (`*MOT: ...`) per row; the other columns reach the rewards
    rewards: list[str]  # reward names for training.rewards.make_reward
    output: Path
    reward_weights: list[float] | None = None  # None: all 1.0 (trl sums weighted rewards)
    # The `model=` option of the rewards that score with a model: one for all (judge, semsim, confidence), or one
    # per reward as "judge=M1,confidence=M2" or {"judge": M1, ...} (the seed: a 7B judge, a 3B mother)
    reward_model: str | dict[str, str] | None = None
    algorithm: str = "rloo"  # one of ALGORITHMS
    max_steps: int = -1  # -1: one pass over the prompts; 0 is refused (no step)
    save: str = "steps:1000"  # "steps:N" (every N steps, as the seed) or "log:N" (N log-uniform steps); always the last
    seed: int = 0
    beta: float | None = None  # None: the seed's, by reward (seed_beta_lr)
    learning_rate: float | None = None  # None: the seed's, by reward (seed_beta_lr)
    num_generations: int = 2  # samples per prompt
    batch_size: int = 16  # prompts per step (per device; a smaller prompts file: all of it); num_generations samples each
    max_completion_length: int = 20
    top_p: float = 0.9
    temperature: float = 1.0
