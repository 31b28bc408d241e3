"""The ``e2lm-bench`` command: thin argument parsing over library functions."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from e2lm_bench.devices import DTYPES
from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.harness import resolve_data_dir
from e2lm_bench.evaluation.model_args import parse_model_args

EVAL_HELP = """\
usage: e2lm-bench eval [--data-dir DIR|sample] <any lm_eval arguments>

Runs lm-eval's own command line with this package's tasks (dialogue_minpairs, lexical_decision, early_science,
zorro, the BabyLM 2025 suites babylm_2025 and babylm_2025_fast, and their subtasks) on the include path, and
--batch_size auto unless you give one. The BabyLM 2025 tasks give the official pipeline's numbers with
--model hf-prefix and dtype=float32.
--data-dir sets E2LM_DATA_DIR for the run ('sample' = the small data bundled with the package).
Under torchrun or accelerate launch (-m e2lm_bench eval ...) the processes share the documents (--model hf-prefix:
on CPUs too) and the first writes the results.
lm-eval's help follows.
"""


def _defaults(config_class) -> dict:
    """A config dataclass's field defaults: each default is stated once, in the dataclass the library uses."""
    return {f.name: f.default for f in dataclasses.fields(config_class) if f.default is not dataclasses.MISSING}


def _build_parser() -> argparse.ArgumentParser:
    from e2lm_bench.demo.pipeline import DemoSettings
    from e2lm_bench.evaluation.run_plan import SCORERS, SPLITS, TrajectoryConfig
    from e2lm_bench.training.interaction_config import BACKENDS as INTERACTION_BACKENDS
    from e2lm_bench.training.interaction_config import InteractionConfig
    from e2lm_bench.training.mother_scores import MomScoreConfig
    from e2lm_bench.training.pretrain_config import PretrainConfig
    from e2lm_bench.training.rl_config import ALGORITHMS, SEED_BETA_LR, SEED_BETA_LR_BY_REWARD, RLConfig
    from e2lm_bench.training.teacher import BACKENDS, TeacherConfig

    parser = argparse.ArgumentParser(prog="e2lm-bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("eval", help="lm_eval with our tasks registered (all lm_eval arguments pass through)")

    baseline = commands.add_parser("baseline", help="write a baseline model folder that lm_eval --model hf loads")
    baseline.add_argument("kind", choices=["random-logits", "untrained"])
    baseline.add_argument("--output", required=True, type=Path, help="model folder to write")
    baseline.add_argument("--tokenizer", help="tokenizer folder or hub id (default: a small BPE trained on the sample data)")
    baseline.add_argument("--preset", default="llama-tiny", help="preset name or config file (untrained only)")
    baseline.add_argument("--seed", type=int, default=0)

    sample = commands.add_parser("sample-data", help="print the bundled sample data folder, or write a fresh copy")
    sample.add_argument("--output", type=Path, help="write a regenerated copy here instead")
    sample.add_argument("--seed", type=int, default=0)

    conventions = commands.add_parser(
        "conventions", help="score one task under each published scoring convention, side by side"
    )
    conventions.add_argument("model", help="model folder (or hub id)")
    conventions.add_argument(
        "--task", required=True,
        choices=["dialogue_minpairs_words", "dialogue_minpairs_tokens", "lexical_decision", "zorro"],
    )
    conventions.add_argument("--limit", type=int, help="first N items (per paradigm for zorro)")
    conventions.add_argument("--lowercase", action="store_true", help="lower-case sentences first (the seed's Zorro script did)")
    conventions.add_argument("--batch-size", type=int, default=64)
    conventions.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    conventions.add_argument("--dtype", default="auto", choices=DTYPES,
                             help="model dtype (default: auto, as saved)")
    conventions.add_argument("--model-args", help="k=v,... for from_pretrained, e.g. revision=step1000,attn_implementation=eager")
    conventions.add_argument("--trust-remote-code", action="store_true")
    conventions.add_argument("--data-dir", help="E2LM_DATA_DIR for the pairs ('sample' = the bundled sample)")

    trajectory = commands.add_parser(
        "trajectory", help="evaluate tasks over checkpoint series into DIR/results.csv (resumable, shardable)"
    )
    run_defaults = _defaults(TrajectoryConfig)
    trajectory.add_argument("series", nargs="+", help="checkpoint folder, model folder, or Hub repository id")
    trajectory.add_argument("--tasks", required=True, help="comma-separated lm-eval tasks or groups (ours or built-in)")
    trajectory.add_argument("--output", required=True, type=Path, help="run folder (results, samples, failures)")
    trajectory.add_argument("--limit", type=int, help="first N documents per task")
    trajectory.add_argument("--batch-size", type=int, default=run_defaults["batch_size"])
    trajectory.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    trajectory.add_argument("--shard", help="I/N: run only the I-th (0-based) of N disjoint parts (default: every "
                            "part not written or claimed by another process on the same --output; under torchrun, "
                            "accelerate launch or srun each process starts with its rank's share)")
    trajectory.add_argument("--split", default=run_defaults["split"], choices=SPLITS,
                            help="under torchrun, accelerate launch or srun: parts (default), each process evaluates "
                            "(checkpoint, task) parts of its own; requests, the processes evaluate each part together, "
                            "lm-eval splitting its documents among them (a model too large for one process per checkpoint)")
    trajectory.add_argument("--dtype", choices=DTYPES,
                            help="model dtype (default: auto, as saved)")
    trajectory.add_argument("--model-args", help="k=v,... for HFLM and from_pretrained, as lm_eval's --model_args "
                            "(revision, attn_implementation, parallelize=True, device_map, ...)")
    trajectory.add_argument("--trust-remote-code", action="store_true", help="same as --model-args trust_remote_code=True")
    trajectory.add_argument("--num-fewshot", type=int, help="few-shot examples per item, as lm_eval's --num_fewshot "
                            "(overrides the task's, except where a task fixes 0)")
    trajectory.add_argument("--seed", help="as lm_eval's --seed: one int, or python,numpy,torch,fewshot "
                            "(default: 0,1234,1234,1234)")
    trajectory.add_argument("--overwrite", action="store_true",
                            help="re-evaluate parts written with other settings (default: refuse to mix them)")
    trajectory.add_argument("--include-path", help="an extra folder of task YAMLs")
    trajectory.add_argument("--data-dir", help="E2LM_DATA_DIR for our tasks ('sample' = the bundled sample)")
    trajectory.add_argument("--every", type=int, help="keep checkpoints whose step is a multiple of N")
    trajectory.add_argument("--max-step", type=int, help="keep checkpoints up to this step")
    trajectory.add_argument("--tokens-per-step", type=float, help="tokens per step, for a token axis on non-E2LM series")
    trajectory.add_argument("--scorer", default=run_defaults["scorer"], choices=SCORERS,
                            help="hf-prefix (default) runs each distinct context once and scores its continuations "
                            "from the cache; hf is lm-eval's own (equal log-likelihoods)")
    trajectory.add_argument("--no-prefetch", dest="prefetch", action="store_false",
                            help="fetch each checkpoint when its turn comes (default: the next one while this one runs)")
    trajectory.add_argument("--cleanup", action="store_true",
                            help="download Hub checkpoints into OUTPUT/.downloads and remove each once its parts are "
                            "written (at most two on disk; default: keep them in the Hugging Face cache)")

    score = commands.add_parser("score", help="signal quality, ranking consistency, compliance: DIR/scores.json")
    score.add_argument("results", type=Path, help="run folder, results CSV, or the organizers' curve JSON")
    score.add_argument("--x", choices=["step", "tokens", "words"],
                       help="checkpoint order axis (default: step; words for a series named only chck_<N>M)")
    score.add_argument("--organizer-curves", type=Path, help="add the organizers' curves (E2LM JSON) to the table")
    score.add_argument("--rc-pairs", help="model pairs for ranking consistency: a:b,c:d")
    score.add_argument("--rc-reference", type=float, help="x value of the reference checkpoint for RC")
    score.add_argument("--rc-variant", default="agreement", choices=["agreement", "kendall"])
    score.add_argument("--cs-pairs", help="science:control model pairs for scientific compliance")
    score.add_argument("--cs-variant", default="win_rate", choices=["win_rate", "gap"])
    score.add_argument("--models", help="comma-separated models to score (default: all)")
    score.add_argument("--every", type=int, default=4000,
                       help="organizer curves: keep iterations divisible by N (default 4000, the organizers' rule)")
    score.add_argument("--max-tokens", type=float, default=206e9,
                       help="organizer curves: keep checkpoints up to this many tokens (default 206e9)")
    score.add_argument("--output", type=Path,
                       help="scores.json path (default: in the run folder; ./scores.json for other files)")
    score.add_argument("--last-k", type=int, default=5, help="signal-to-noise: each model's last K checkpoints")
    score.add_argument("--decision", metavar="SMALL1,SMALL2,...=TARGET1,TARGET2,...",
                       help="decision accuracy: small models whose ordering should predict the target models' final one")
    score.add_argument("--bootstrap", type=int, default=0, metavar="N",
                       help="N item-bootstrap replicates for 95%% intervals (needs the run folder's samples)")
    score.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    score.add_argument("--chance", type=float, help="chance accuracy for ages of acquisition "
                       "(default: 1 / answer options when samples are read, else 0.5)")
    score.add_argument("--data-dir", help="E2LM_DATA_DIR for --word-aoa: the BabyLM evaluation_data ('sample' = the "
                       "bundled sample)")
    score.add_argument("--word-aoa", nargs="?", const="data", metavar="CDI_HUMAN_CSV",
                       help="BabyLM 2025 word age of acquisition from the run's aoa_word task over chck_*M checkpoints, "
                            "against children's ages in CDI_HUMAN_CSV (default: aoa/cdi_human.csv in E2LM_DATA_DIR)")
    score.add_argument("--item-slopes", action="store_true",
                       help="read the run's per-item samples for the slopes of item margins (slow on big runs)")

    train = commands.add_parser("train", help="BabyLlama-style pretraining that saves a checkpoint series")
    train.add_argument("corpus", type=Path, help="folder of *.train / *.dev text files, one utterance per line")
    train.add_argument("--output", required=True, type=Path)
    train_defaults = _defaults(PretrainConfig)
    train.add_argument("--preset", default=train_defaults["preset"], help="preset name or a Llama/GPT-2 config file")
    train.add_argument("--tokenizer", help="tokenizer folder (default: train a byte-level BPE on the corpus)")
    train.add_argument("--vocab-size", type=int, default=train_defaults["vocab_size"])
    train.add_argument("--block-size", type=int, default=train_defaults["block_size"],
                       help="tokens per block (the original BabyLlama used 128)")
    train.add_argument("--batch-size", type=int, default=train_defaults["batch_size"])
    train.add_argument("--gradient-accumulation", type=int, default=train_defaults["gradient_accumulation_steps"])
    train.add_argument("--lr", type=float, default=train_defaults["learning_rate"])
    train.add_argument("--weight-decay", type=float, default=train_defaults["weight_decay"])
    train.add_argument("--warmup-steps", type=int, default=train_defaults["warmup_steps"])
    train.add_argument("--epochs", type=float, default=train_defaults["epochs"])
    train.add_argument("--max-steps", type=int, default=train_defaults["max_steps"])
    train.add_argument("--save", default=train_defaults["save"], help="words (chck_<N>M), log:N (N log-uniform steps) or steps:N")
    train.add_argument("--teachers", help="comma-separated teacher model folders for distillation")
    train.add_argument("--alpha", type=float, default=train_defaults["alpha"], help="weight of the cross-entropy term when distilling")
    train.add_argument("--temperature", type=float, default=train_defaults["temperature"])
    train.add_argument("--seed", type=int, default=train_defaults["seed"])
    train.add_argument("--report-to", default=train_defaults["report_to"], help="wandb, tensorboard, ... (Trainer's report_to)")
    train.add_argument("--resume", action="store_true", help="continue from the last Trainer checkpoint in OUTPUT")

    rl = commands.add_parser("rl", help="RL fine-tuning on mother prompts (trl RLOO or GRPO) that saves a checkpoint "
                             "series and OUTPUT/rewards.csv")
    rl_defaults = _defaults(RLConfig)
    seed_beta, seed_lr = SEED_BETA_LR
    confidence_beta, confidence_lr = SEED_BETA_LR_BY_REWARD["confidence"]
    rl.add_argument("policy", help="model folder to fine-tune")
    rl.add_argument("--prompts", required=True, type=Path,
                    help="JSONL, a 'prompt' ('*MOT: ...') per row; its other columns reach the rewards")
    rl.add_argument("--reward", required=True, help="comma-separated rewards: bleu, semsim, judge, confidence")
    rl.add_argument("--reward-weights", help="comma-separated weights, one per reward (default: all 1)")
    rl.add_argument("--reward-model", metavar="MODEL|NAME=MODEL,...",
                    help="model folder or Hub id for judge, semsim and confidence, or one per reward: "
                    "judge=M1,confidence=M2")
    rl.add_argument("--algorithm", default=rl_defaults["algorithm"], choices=ALGORITHMS)
    rl.add_argument("--output", required=True, type=Path)
    rl.add_argument("--max-steps", type=int, default=rl_defaults["max_steps"], help="-1: one pass over the prompts")
    rl.add_argument("--save", default=rl_defaults["save"], help="steps:N or log:N; the last step is always saved")
    rl.add_argument("--seed", type=int, default=rl_defaults["seed"])
    rl.add_argument("--beta", type=float, help=f"KL coefficient (default: the seed's {seed_beta}, {confidence_beta} "
                    "with confidence)")
    rl.add_argument("--lr", type=float, help=f"learning rate (default: the seed's {seed_lr}, {confidence_lr} with confidence)")
    rl.add_argument("--num-generations", type=int, default=rl_defaults["num_generations"], help="samples per prompt")
    rl.add_argument("--batch-size", type=int, default=rl_defaults["batch_size"],
                    help="prompts per step (a smaller prompts file: all its prompts)")

    interact = commands.add_parser("interact", help="SimPO interaction training with a teacher (BabyLM interaction "
                                   "baseline): OUTPUT/round_NN series and OUTPUT/rounds.csv, resumable by round")
    interact_defaults = _defaults(InteractionConfig)
    interact.add_argument("student", help="model folder, or a preset name / config file for a random init")
    interact.add_argument("--teacher", required=True, help="causal or chat model folder, or a Python callable "
                          "module:function taking (contexts, completions) and returning corrections")
    interact.add_argument("--corpus", required=True, type=Path, help="folder of BabyLM *.train files")
    interact.add_argument("--output", required=True, type=Path)
    interact.add_argument("--tokenizer", help="random init only: tokenizer folder (default: train a BPE on the corpus)")
    interact.add_argument("--vocab-size", type=int, default=interact_defaults["vocab_size"], help="of the trained BPE")
    for option in ("rounds", "context_tokens", "completion_tokens", "batch_size", "generation_batch_size", "lm_epochs",
                   "po_epochs", "seed"):
        interact.add_argument("--" + option.replace("_", "-"), type=int, default=interact_defaults[option])
    interact.add_argument("--beta", type=float, default=interact_defaults["beta"])
    interact.add_argument("--gamma-ratio", type=float, default=interact_defaults["gamma_ratio"],
                          help="SimPO margin as a share of beta (margin = beta * ratio)")
    interact.add_argument("--lm-weight", type=float, default=interact_defaults["lm_weight"])
    interact.add_argument("--lr", type=float, default=interact_defaults["learning_rate"])
    interact.add_argument("--warmup", type=int, default=interact_defaults["warmup_steps"])
    interact.add_argument("--scheduler-steps", type=int, default=interact_defaults["scheduler_steps"],
                          help="length of the one cosine schedule that spans all rounds")
    interact.add_argument("--backend", default=interact_defaults["backend"], choices=INTERACTION_BACKENDS)
    interact.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")

    select = commands.add_parser("select-items", help="keep the items whose curves rise over a checkpoint series")
    select.add_argument("run", type=Path, help="trajectory run folder with per-item samples")
    select.add_argument("--task", default="early_science")
    select.add_argument("--output", required=True, type=Path, help="data folder to write (task layout)")
    select.add_argument("--data-dir", help="the pool the run evaluated (default: E2LM_DATA_DIR)")
    select.add_argument("--metric", default="margin", help="per-item value whose curve is judged")
    select.add_argument("--min-slope", type=float, default=0.0)
    select.add_argument("--min-sq", type=float, default=0.5,
                        help="per-item SQ threshold (with fewer than 8 checkpoints SQ is at most 0.5)")
    select.add_argument("--subjects", help="comma-separated subjects to keep")
    select.add_argument("--allow-any-size", action="store_true", help="skip the 100-15,000 items rule")
    select.add_argument("--push", metavar="REPO", help="upload the selection as a Hub dataset (token: HF_TOKEN)")

    data = commands.add_parser("data", help="build task data in the E2LM_DATA_DIR layout")
    builders = data.add_subparsers(dest="builder", required=True)
    pool = builders.add_parser("science-pool", help="early_science candidates from SciQ, ARC-Easy and MMLU STEM (Hub)")
    pool.add_argument("--output", required=True, type=Path)
    pool.add_argument("--sources", default="sciq,arc_easy,mmlu_stem")
    pool.add_argument("--dev-per-source", type=int, default=5)
    pool.add_argument("--max-items", type=int)
    pool.add_argument("--seed", type=int, default=0)

    suites = builders.add_parser("minpairs-from-text", help="Zorro/BLiMP line pairs or BLiMP JSONL into the zorro layout")
    suites.add_argument("source", type=Path, help="folder of *.txt (consecutive pairs) or *.jsonl (BLiMP) files")
    suites.add_argument("--output", required=True, type=Path, help="data folder (E2LM_DATA_DIR layout)")
    suites.add_argument("--suite", default="zorro", choices=["zorro", "blimp"])
    suites.add_argument("--bad-first", action="store_true", help="the ungrammatical line comes first in each pair")

    dialogue = builders.add_parser("dialogue-minpairs", help="caregiver turn, the child's reply and a matched distractor, from CHAT")
    dialogue.add_argument("chat", nargs="+", type=Path, help=".cha transcripts or folders of them")
    dialogue.add_argument("--output", required=True, type=Path, help="data folder (E2LM_DATA_DIR layout)")
    dialogue.add_argument("--match", default="words", choices=["words", "tokens"])
    dialogue.add_argument("--tokenizer", help="tokenizer folder for --match tokens")
    dialogue.add_argument("--caregivers", default="MOT,FAT", help="speaker codes of caregiver turns")
    dialogue.add_argument("--child", default="CHI")
    dialogue.add_argument("--min-words", type=int, default=1, help="minimum words in the child's reply")
    dialogue.add_argument("--no-dedupe", action="store_true", help="keep repeated (prompt, reply) pairs")
    dialogue.add_argument("--held-out", type=float, default=0.0, help="fraction of pairs set aside in <name>_heldout.jsonl")
    dialogue.add_argument("--name", help="output file stem (default dialogue_eval_words / dialogue_eval_tokens)")
    dialogue.add_argument("--seed", type=int, default=0)

    lexical = builders.add_parser("lexical-decision", help="real words against matched pseudo-words (English)")
    lexical.add_argument("--output", required=True, type=Path, help="data folder (E2LM_DATA_DIR layout)")
    source = lexical.add_mutually_exclusive_group(required=True)
    source.add_argument("--words", type=Path, help="word list, one word per line")
    source.add_argument("--frequency-band", help="Zipf band LOW,HIGH of wordfreq's English list, e.g. 4,5.5")
    lexical.add_argument("--vocabulary", type=Path, help="keep words a tokenizer folder or a corpus (file or *.train folder) contains")
    lexical.add_argument("-n", type=int, help="number of pairs (default: all words)")
    lexical.add_argument("--seed", type=int, default=0)

    answers = builders.add_parser("teacher-answers", help="RL data: N sampled child answers per *MOT: prompt (resumable)")
    teacher_defaults = _defaults(TeacherConfig)
    answers.add_argument("prompts", type=Path, help="text file of *MOT: lines (other lines skipped), or a .jsonl file with 'prompt'")
    answers.add_argument("--teacher", required=True, help="teacher model folder or Hub id (the seed: meta-llama/Llama-3.2-3B)")
    answers.add_argument("--output", required=True, type=Path, help="JSONL; a rerun skips the prompts already in it")
    answers.add_argument("--n", type=int, default=teacher_defaults["n"], help="answers per prompt")
    answers.add_argument("--temperature", type=float, default=teacher_defaults["temperature"])
    answers.add_argument("--top-p", type=float, default=teacher_defaults["top_p"])
    answers.add_argument("--max-new-tokens", type=int, default=teacher_defaults["max_new_tokens"])
    answers.add_argument("--backend", default=teacher_defaults["backend"], choices=BACKENDS)
    answers.add_argument("--batch-size", type=int, default=teacher_defaults["batch_size"], help="prompts per generate call")
    answers.add_argument("--seed", type=int, default=teacher_defaults["seed"])
    answers.add_argument("--device", help="cpu, cuda, cuda:1, ... (transformers backend; default: cuda when available)")
    answers.add_argument("--dtype", default=teacher_defaults["dtype"], choices=DTYPES, help="model dtype (default: auto, as saved)")

    mom = builders.add_parser("mom-scores", help="RL data: add mom_logps (log P of each teacher answer given the mother) to each row")
    mom_defaults = _defaults(MomScoreConfig)
    mom.add_argument("answers", type=Path, help="JSONL with 'prompt' and 'teacher_responses' (teacher-answers output)")
    mom.add_argument("--model", required=True, help="scoring model folder or Hub id (the seed: the teacher)")
    mom.add_argument("--output", required=True, type=Path, help="JSONL; a rerun skips the prompts already in it")
    mom.add_argument("--batch-size", type=int, default=mom_defaults["batch_size"],
                     help="answers per forward pass (and rows per write)")
    mom.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    mom.add_argument("--dtype", default=mom_defaults["dtype"], choices=DTYPES, help="model dtype (default: auto, as saved)")

    demo = commands.add_parser("demo", help="the whole package offline: grammar corpus, training, evaluation, report")
    demo_defaults = _defaults(DemoSettings)
    demo.add_argument("--output", type=Path, default=demo_defaults["output"])
    demo.add_argument("--max-steps", type=int, default=demo_defaults["max_steps"],
                      help="training steps (the default takes about 2.5 minutes on 2 CPU cores)")
    demo.add_argument("--seed", type=int, default=demo_defaults["seed"])
    demo.add_argument("--with", dest="stages", default="", metavar="STAGES",
                      help="comma-separated optional stages after pretraining: rl (RLOO on BLEU against the "
                           "grammar's teacher answers, about 2 more minutes), interaction (SimPO rounds with the "
                           "grammar as teacher, about 4 more minutes)")

    report = commands.add_parser("report", help="DIR/report.html (self-contained) and DIR/report.md with plots")
    report.add_argument("runs", nargs="+", type=Path, metavar="DIR",
                        help="run folder(s) with results and scores.json; several are overlaid in one report")
    report.add_argument("--output", type=Path,
                        help="folder to write the report into (default: the run folder; required with several)")

    register = commands.add_parser(
        "register", help="make plain `lm_eval` find our tasks without --include_path (links in lm-eval's task folder)"
    )
    register.add_argument("--undo", action="store_true", help="remove what `e2lm-bench register` made, nothing else")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "eval":  # everything after `eval` belongs to lm_eval
        if any(a in ("-h", "--help") for a in argv[1:2]) or len(argv) == 1:
            print(EVAL_HELP)
        from e2lm_bench.evaluation.harness import run

        return run(argv[1:])
    args = _build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (UserError, OSError) as err:
        print(f"e2lm-bench {args.command}: {err}", file=sys.stderr)
        return 2


def _baseline(args) -> int:
    from e2lm_bench.training.baselines import save_random_logits_model, save_untrained_model

    tokenizer = _load_tokenizer(args.tokenizer)
    if args.kind == "random-logits":
        path = save_random_logits_model(args.output, tokenizer, seed=args.seed)
        print(f"wrote {path} (load with trust_remote_code=True)")
    else:
        path = save_untrained_model(args.output, tokenizer, preset=args.preset, seed=args.seed)
        print(f"wrote {path}")
    return 0


def _load_tokenizer(name: str | None):
    if name:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name)
    from e2lm_bench.training.tokenizer import sample_tokenizer

    return sample_tokenizer()


def _sample_data(args) -> int:
    from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR, write_sample_data

    print(write_sample_data(args.output, seed=args.seed) if args.output else SAMPLE_DATA_DIR)
    return 0


CONVENTIONS_OWN_OPTIONS = {"pretrained": "the model as MODEL", "dtype": "the dtype with --dtype", "device": "the device with --device"}


def _conventions(args) -> int:
    import os

    from e2lm_bench.evaluation.conventions import LMScorer, compare_conventions, pair_sources, task_pairs

    model_args = parse_model_args(args.model_args, args.trust_remote_code)
    taken = sorted(CONVENTIONS_OWN_OPTIONS.keys() & model_args.keys())
    if taken:
        raise UserError(f"--model-args {', '.join(taken)}: give {', '.join(CONVENTIONS_OWN_OPTIONS[k] for k in taken)}")
    if args.data_dir:
        os.environ["E2LM_DATA_DIR"] = str(resolve_data_dir(args.data_dir))
    subtasks = task_pairs(args.task, args.limit)  # before the model loads, so a data problem shows at once
    for name, source in pair_sources(args.task).items():
        print(f"{name}: {len(subtasks[name][1])} pairs from {source}")
    scorer = LMScorer.from_pretrained(args.model, batch_size=args.batch_size, device=args.device, dtype=args.dtype,
                                      **model_args)
    table = compare_conventions(scorer, subtasks, lowercase=args.lowercase)
    print(f"{'convention':<14}{'acc':>8}{'margin':>10}")
    for name, row in table.items():
        print(f"{name:<14}{row['acc']:>8.4f}{row['margin']:>10.4f}")
    return 0


def _trajectory(args) -> int:
    import os

    from e2lm_bench.evaluation.pipeline_rule import pipeline_settings
    from e2lm_bench.evaluation.run_plan import TrajectoryConfig, parse_seed, parse_shard
    from e2lm_bench.evaluation.trajectory import run_trajectory
    from e2lm_bench.launch import current_launch

    if args.data_dir:
        os.environ["E2LM_DATA_DIR"] = str(resolve_data_dir(args.data_dir))
    model_args = parse_model_args(args.model_args, args.trust_remote_code)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    dtype, notes = pipeline_settings(tasks, None, args.dtype or model_args.get("dtype"))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    config = TrajectoryConfig(
        series=args.series, tasks=tasks, output=args.output, limit=args.limit, batch_size=args.batch_size,
        device=args.device, shard=parse_shard(args.shard), dtype=None if "dtype" in model_args else dtype,
        model_args=model_args, num_fewshot=args.num_fewshot, seed=parse_seed(args.seed),
        overwrite=args.overwrite, include_path=args.include_path, every=args.every, max_step=args.max_step,
        tokens_per_step=args.tokens_per_step, hub_token=os.environ.get("HF_TOKEN") or None,
        scorer=args.scorer, prefetch=args.prefetch, cleanup=args.cleanup, split=args.split,
    )
    summary = run_trajectory(config)
    print(f"evaluated {len(summary.evaluated)}, already done {summary.skipped}, by other processes {summary.by_others}, "
          f"failed checkpoints {len(summary.failed)}"
          + (f", re-evaluated damaged parts {len(summary.damaged)}" if summary.damaged else "")
          + (f", each task's documents split among {summary.processes_per_checkpoint} processes"
             if summary.processes_per_checkpoint > 1 else "")
          + (f" [{current_launch().describe()}]" if current_launch().launched else ""))
    if summary.unverified:
        print(f"  {summary.unverified} done part(s) were written by an older e2lm-bench without all of their settings: "
              "kept unchecked (--overwrite re-evaluates them)")
    for failure in summary.failed:
        print(f"  failed: {failure['location']}: {failure['error']}")
    for task, why in summary.unavailable.items():
        print(f"  not run: {task}: {why}")
    for damage in summary.still_damaged:  # another shard's part: that shard's rerun re-evaluates it
        print(f"  not in results.csv, cannot be read whole: {damage}")
    print(f"results: {summary.results_csv}")
    from e2lm_bench.lm_eval_tasks.babylm_2025.catalog import NAMES

    failed = bool(summary.failed or summary.still_damaged or summary.unavailable)
    if NAMES.intersection(config.tasks) and config.limit is not None:
        print("  BabyLM 2025 pipeline files not written: --limit evaluates part of each task")
    elif NAMES.intersection(config.tasks) and current_launch().is_main:  # the launch's last to finish
        from e2lm_bench.report.babylm_pipeline import write_pipeline_outputs

        try:
            written = write_pipeline_outputs(summary.results_csv.parent)
        except UserError as err:
            print(f"  BabyLM 2025 pipeline files not written: {err}")
            return 1
        if written:
            print(f"BabyLM 2025 pipeline files: {summary.results_csv.parent / 'babylm_pipeline'} ({len(written)} files)")
    return 1 if failed else 0


def _pairs(text: str | None) -> list[tuple[str, str]] | None:
    if not text:
        return None
    pairs = [tuple(p.split(":", 1)) for p in text.split(",")]
    if any(len(p) != 2 or not all(p) for p in pairs):
        raise UserError(f"model pairs {text!r}: expected a:b,c:d")
    return pairs


def _word_aoa(source: Path, cdi_human: str) -> dict:
    """Word AoA per model; each model's surprisals also written as the pipeline's ``surprisal.json``."""
    from e2lm_bench.atomic import atomic_write_text
    from e2lm_bench.report.babylm_pipeline import pipeline_folder
    from e2lm_bench.scores import word_aoa
    from e2lm_bench.taskdata import babylm

    if not source.is_dir():
        raise UserError(f"--word-aoa needs a run folder with aoa_word samples, not {source}")
    cdi_human = babylm.cdi_human_path() if cdi_human == "data" else Path(cdi_human)
    repeats = {w: len(c) for w, c in babylm.cdi_contexts().items()} if babylm.local_data_dir() else None
    try:
        points = word_aoa.run_points(source, repeats)
        if not points:
            raise ValueError(f"{source} has no aoa_word results (run the task over a chck_*M series)")
        scores = {}
        for model, model_points in points.items():
            result = word_aoa.word_aoa_score(model_points, cdi_human)
            target = pipeline_folder(source / "babylm_pipeline", model, "main") / "AoA_word" / "surprisal.json"
            atomic_write_text(target, json.dumps(word_aoa.pipeline_surprisal_json(model_points, model)))
            scores[model] = {k: result[k] for k in ("curve_fitness", "p_value", "n_words")}
            print(f"word AoA {model}: r={result['curve_fitness']:.3f} over {result['n_words']} words ({target})")
    except (ValueError, KeyError) as err:  # a malformed CDI table or samples file: name it, no traceback
        raise UserError(f"--word-aoa: {err}") from None
    return scores


def _score(args) -> int:
    import os

    import pandas as pd

    from e2lm_bench.atomic import atomic_write_text
    from e2lm_bench.evaluation.results import load_organizer_curves, read_results
    from e2lm_bench.scores.benchmarks import score_results
    from e2lm_bench.scores.bootstrap import read_item_values
    from e2lm_bench.scores.decision import parse_decision
    from e2lm_bench.scores.table import format_scores

    if args.data_dir:
        os.environ["E2LM_DATA_DIR"] = str(resolve_data_dir(args.data_dir))
    source = args.results
    curves = lambda path: load_organizer_curves(path, every=args.every, max_tokens=args.max_tokens)  # noqa: E731
    table = curves(source) if source.suffix == ".json" else read_results(source)
    if args.organizer_curves:
        table = pd.concat([table, curves(args.organizer_curves)], ignore_index=True)
    if args.models:
        wanted = [m.strip() for m in args.models.split(",")]
        missing = sorted(set(wanted) - set(table["model"]))
        if missing:
            raise UserError(f"--models: not in the results: {', '.join(missing)}")
        table = table[table["model"].isin(wanted)]
    if args.last_k < 1 or args.bootstrap < 0:
        raise UserError(f"--last-k must be >= 1 and --bootstrap >= 0 (got {args.last_k} and {args.bootstrap})")
    decision = parse_decision(args.decision, set(table["model"])) if args.decision else None
    x = args.x or next((c for c in ("step", "words", "tokens") if table[c].notna().any()), "step")
    if args.x is None and x != "step":
        print(f"e2lm-bench score: no checkpoint has a step; ordered by {x}", file=sys.stderr)
    items = None
    if args.bootstrap or args.item_slopes:  # reading samples costs about a second per checkpoint of a large task
        margins = ("margin",) if args.item_slopes else ()
        items = read_item_values(source, table, extra_metrics=margins) if source.is_dir() else None
        if not items:
            print(f"e2lm-bench score: {source} has no per-item samples (a run folder of `e2lm-bench trajectory` has "
                  "them): no intervals, no item slopes", file=sys.stderr)
    scores = score_results(
        table, x=x, rc_pairs=_pairs(args.rc_pairs), rc_reference=args.rc_reference,
        rc_variant=args.rc_variant, cs_pairs=_pairs(args.cs_pairs), cs_variant=args.cs_variant,
        last_k=args.last_k, decision=decision, items=items, bootstrap=args.bootstrap, seed=args.seed,
        chance=args.chance,
    )
    if args.word_aoa:
        scores["word_aoa"] = _word_aoa(source, args.word_aoa)
    if args.output:
        output = args.output
    elif source.is_dir():
        output = source / "scores.json"
    else:  # never write beside someone else's file (a shared data folder, the organizers' curves)
        output = source.parent / "scores.json" if source.name == "results.csv" else Path("scores.json")
    atomic_write_text(Path(output), json.dumps(scores, indent=1, allow_nan=False))
    print(format_scores(scores))
    print(f"scores: {output}")
    return 0


def _train(args) -> int:
    from e2lm_bench.launch import current_launch
    from e2lm_bench.training.pretrain import PretrainConfig, pretrain

    config = PretrainConfig(
        corpus=args.corpus, output=args.output, preset=args.preset, tokenizer=args.tokenizer,
        vocab_size=args.vocab_size, block_size=args.block_size, batch_size=args.batch_size,
        gradient_accumulation_steps=args.gradient_accumulation, learning_rate=args.lr, weight_decay=args.weight_decay,
        warmup_steps=args.warmup_steps, epochs=args.epochs, max_steps=args.max_steps, save=args.save,
        teachers=[t for t in (args.teachers or "").split(",") if t], alpha=args.alpha, temperature=args.temperature,
        seed=args.seed, report_to=args.report_to, resume=args.resume,
    )
    output = pretrain(config)
    if current_launch().is_main:  # under a launcher every process returns; one says so
        print(f"checkpoints: {output}")
    return 0


def _rl(args) -> int:
    from e2lm_bench.launch import current_launch
    from e2lm_bench.training.rl import RLConfig, train_rl

    try:
        weights = [float(w) for w in args.reward_weights.split(",")] if args.reward_weights else None
    except ValueError:
        raise UserError(f"--reward-weights {args.reward_weights!r}: expected comma-separated numbers") from None
    config = RLConfig(
        policy=args.policy, prompts=args.prompts, rewards=[r.strip() for r in args.reward.split(",") if r.strip()],
        output=args.output, reward_weights=weights, reward_model=args.reward_model, algorithm=args.algorithm,
        max_steps=args.max_steps, save=args.save, seed=args.seed, beta=args.beta, learning_rate=args.lr,
        num_generations=args.num_generations, batch_size=args.batch_size,
    )
    output = train_rl(config)
    if current_launch().is_main:
        print(f"checkpoints: {output}\nrewards: {output / 'rewards.csv'}")
    return 0


def _interact(args) -> int:
    from e2lm_bench.launch import current_launch
    from e2lm_bench.training.interaction import InteractionConfig, InteractionTrainer

    config = InteractionConfig(
        student=args.student, teacher=args.teacher, corpus=args.corpus, output=args.output, tokenizer=args.tokenizer,
        vocab_size=args.vocab_size, rounds=args.rounds, context_tokens=args.context_tokens,
        completion_tokens=args.completion_tokens, batch_size=args.batch_size,
        generation_batch_size=args.generation_batch_size, lm_epochs=args.lm_epochs, po_epochs=args.po_epochs,
        beta=args.beta, gamma_ratio=args.gamma_ratio, lm_weight=args.lm_weight, learning_rate=args.lr,
        warmup_steps=args.warmup, scheduler_steps=args.scheduler_steps, seed=args.seed, backend=args.backend,
        device=args.device,
    )
    output = InteractionTrainer(config).train()
    if current_launch().is_main:
        print(f"checkpoints: {output}\nrounds: {output / 'rounds.csv'}")
    return 0


def _select_items(args) -> int:
    from e2lm_bench.early_science.docs import load_docs
    from e2lm_bench.early_science.hub_dataset import push_to_hub
    from e2lm_bench.early_science.item_selection import select_items, write_selection
    from e2lm_bench.scores.item_curves import item_curves

    test, dev = load_docs(resolve_data_dir(args.data_dir) if args.data_dir else None, task=args.task)
    curves = item_curves(args.run, args.task, args.metric)
    subjects = {s.strip() for s in args.subjects.split(",")} if args.subjects else None
    selection = select_items(curves, args.min_slope, args.min_sq, subjects=subjects, docs=test)
    folder = write_selection(test, dev, selection, args.output, args.task, allow_any_size=args.allow_any_size)
    print(f"kept {len(selection.kept)} of {len(test)} items; removed by rule: {selection.removed_by}")
    print(f"data: {folder}")
    if args.push:
        print(f"pushed: {push_to_hub(args.output, args.push, task=args.task)}")
    return 0


def _data(args) -> int:
    if args.builder == "teacher-answers":
        from e2lm_bench.training.teacher import TeacherConfig, write_teacher_answers

        config = TeacherConfig(n=args.n, temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                               backend=args.backend, batch_size=args.batch_size, seed=args.seed, device=args.device,
                               dtype=args.dtype)
        print(json.dumps(write_teacher_answers(args.prompts, args.teacher, args.output, config), indent=1))
        return 0
    if args.builder == "mom-scores":
        from e2lm_bench.training.mother_scores import MomScoreConfig, write_mom_scores

        config = MomScoreConfig(batch_size=args.batch_size, device=args.device, dtype=args.dtype)
        print(json.dumps(write_mom_scores(args.answers, args.model, args.output, config), indent=1))
        return 0
    if args.builder == "dialogue-minpairs":
        from e2lm_bench.taskdata.builders.dialogue import build_dialogue_minpairs

        summary = build_dialogue_minpairs(
            args.chat, args.output, match=args.match, tokenizer=args.tokenizer,
            caregivers=tuple(c.strip() for c in args.caregivers.split(",")), child=args.child, seed=args.seed,
            min_words=args.min_words, dedupe=not args.no_dedupe, held_out=args.held_out, name=args.name,
        )
        print(json.dumps(summary, indent=1))
        return 0
    if args.builder == "lexical-decision":
        from e2lm_bench.taskdata.builders.lexical import build_lexical_decision, read_word_list, vocabulary_from

        try:
            band = tuple(float(x) for x in args.frequency_band.split(",")) if args.frequency_band else None
        except ValueError:
            band = ()
        if band is not None and len(band) != 2:
            raise UserError(f"--frequency-band {args.frequency_band!r}: expected LOW,HIGH, e.g. 4,5.5")
        summary = build_lexical_decision(
            args.output, words=read_word_list(args.words) if args.words else None, frequency_band=band,
            vocabulary=vocabulary_from(args.vocabulary) if args.vocabulary else None, n=args.n, seed=args.seed,
        )
        print(json.dumps(summary, indent=1))
        return 0
    if args.builder == "minpairs-from-text":
        from e2lm_bench.taskdata.builders.minpairs import convert_suite

        print("\n".join(convert_suite(args.source, args.output, args.suite, args.bad_first).lines()))
        return 0
    from e2lm_bench.early_science.pool import build_pool

    print(build_pool(args.output, sources=tuple(s.strip() for s in args.sources.split(",")),
                     dev_per_source=args.dev_per_source, seed=args.seed, max_items=args.max_items))
    return 0


def _demo(args) -> int:
    from e2lm_bench.demo.pipeline import DemoSettings, run_demo

    stages = tuple(stage.strip() for stage in args.stages.split(",") if stage.strip())
    summary = run_demo(DemoSettings(output=args.output, max_steps=args.max_steps, seed=args.seed, stages=stages))
    seconds = summary["seconds"]
    stage_laps = "".join(f", {stage} {seconds[stage]:.0f}" for stage in ("rl", "interaction") if stage in seconds)
    print(f"demo finished in {seconds['total']:.0f} s (data {seconds['data']:.0f}, train {seconds['train']:.0f}{stage_laps}, "
          f"evaluate {seconds['evaluate']:.0f}, report {seconds['report']:.0f}); {summary['checkpoints']} checkpoints")
    for task, value in sorted(summary["final_acc"].items()):
        print(f"  final acc {task:55s} {value:.3f}")
    print(f"  mean final acc over the Zorro-style paradigms: {summary['final_zorro_mean_acc']:.3f}")
    print(f"  mean signal quality: acc {summary['mean_sq'].get('acc', float('nan')):.3f}, "
          f"margin {summary['mean_sq'].get('margin', float('nan')):.3f}")
    if "rl" in summary:
        print(f"  RL mean reward (bleu): first fifth of the steps {summary['rl']['first_fifth_reward']:.3f}, "
              f"last fifth {summary['rl']['last_fifth_reward']:.3f}")
    if "interaction" in summary:
        rounds = summary["interaction"]
        print(f"  interaction SimPO margin: round 1 {rounds['first_round_margin']:.3f}, round {rounds['rounds']} "
              f"{rounds['last_round_margin']:.3f}; mean Zorro-style acc of the round series: round 0 "
              f"{rounds['zorro_mean_acc_round_00']:.3f}, round {rounds['rounds']} {rounds['zorro_mean_acc_last_round']:.3f}")
    print(f"report: {summary['report']}")
    return 0


def _report(args) -> int:
    from e2lm_bench.report import ReportError, write_report, write_runs_report

    if len(args.runs) == 1:
        paths = write_report(args.runs[0], output=args.output)
    elif args.output is None:
        raise ReportError(f"{len(args.runs)} run folders need --output DIR, the folder to write their report into")
    else:
        paths = write_runs_report(args.runs, args.output)
    print(f"report: {paths['html']}\n        {paths['markdown']}")
    return 0


def _register(args) -> int:
    from e2lm_bench.evaluation.registration import register, unregister

    if args.undo:
        done = unregister()
        if done is None:
            print("e2lm-bench is not registered with lm-eval: nothing to undo")
            return 0
        print(f"removed the links to {done.source} and {done.folder}; plain lm_eval needs --include_path again")
        for path in done.kept:
            print(f"  kept {path}: it holds files `e2lm-bench register` did not make")
        return 0
    done = register()
    state = "registered" if done.changed else "already registered, nothing changed:"
    print(f"{state} {done.folder} ({len(done.files)} links to {done.source})")
    print("plain lm_eval now finds our tasks, e.g.\n"
          "  lm_eval --model hf --model_args pretrained=DIR --tasks dialogue_minpairs\n"
          "(data: the public sources, or set E2LM_DATA_DIR; `e2lm-bench sample-data` prints the bundled sample)\n"
          "undo with: e2lm-bench register --undo")
    return 0


_COMMANDS = {
    "baseline": _baseline, "sample-data": _sample_data, "conventions": _conventions,
    "trajectory": _trajectory, "score": _score, "report": _report, "train": _train, "rl": _rl, "interact": _interact, "demo": _demo,
    "select-items": _select_items, "data": _data, "register": _register,
}

if __name__ == "__main__":
    sys.exit(main())
