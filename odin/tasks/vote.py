"""task=vote: the answers of several evaluated runs combined by a vote, scored as one more run.

    python -m odin task=vote vote.runs=[outputs/<a>,outputs/<b>,outputs/<c>]       # a majority: 2 of 3
    python -m odin task=vote vote.runs=[...] vote.min_votes=1                        # anything one run found

Each run's evaluation_results.json must hold the same examples (same ids, inputs and gold answers: the hash
`task=compare` pairs on). No model runs: the per-example predictions are voted on (odin/vote.py) and scored by the
metric eval uses; the vote's evaluation_results.json lands in this run's directory, so task=compare pairs it with
any of the runs, and the tracker logs it as an evaluation. Its timing is the runs' generation times added up: a
vote costs all of its models.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig

from odin.errors import OdinError
from odin.evaluation import RESULTS_FILE

log = logging.getLogger(__name__)


def check(cfg: DictConfig) -> None:
    """Refuse settings that cannot work, before anything is written: at least two runs, each evaluated, on the
    same examples, and a vote count they can reach."""
    runs, min_votes = list(cfg.vote.runs), cfg.vote.min_votes
    if len(runs) < 2:
        raise OdinError(f"task=vote needs at least two evaluated runs: vote.runs=[<run dir>,<run dir>,...] (got "
                        f"{len(runs)})")
    if min_votes is not None and not 1 <= min_votes <= len(runs):
        raise OdinError(f"vote.min_votes={min_votes}: between 1 and {len(runs)} for {len(runs)} runs, or null for "
                        "a majority")
    _load_all(runs)


def _load_all(runs: list[str]) -> list[dict]:
    from odin.evaluation import examples_sha1

    results, first = [], None
    for i, run in enumerate(runs):
        path = Path(run) / RESULTS_FILE
        if not path.is_file():
            raise OdinError(f"vote.runs[{i}]={run}: no {RESULTS_FILE} there; give run directories that task=eval "
                            "(or the pipeline) wrote")
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise OdinError(f"{path}: not readable JSON ({err}); run its evaluation again") from err
        digest = examples_sha1(result["examples"])
        if first is None:
            first = (run, result["split"], len(result["examples"]), digest)
        elif digest != first[3]:
            raise OdinError(f"vote.runs[{i}]={run} was scored on other examples than vote.runs[0]={first[0]} "
                            f"({result['split']}, {len(result['examples'])} against {first[1]}, {first[2]}): a "
                            "vote needs the same examples of the same split")
        results.append(result)
    return results


def run(ctx) -> dict[str, float]:
    from odin.evaluation import build_results, print_summary, score_generations, write_results
    from odin.extraction import Extraction
    from odin.plots import write_plots
    from odin.tasks.evaluate import metric_names
    from odin.vote import majority, vote

    cfg, run_dir = ctx.cfg, Path(ctx.run_dir)
    runs = [str(r) for r in cfg.vote.runs]
    results = _load_all(runs)
    min_votes = int(cfg.vote.min_votes) if cfg.vote.min_votes is not None else majority(len(runs))
    first = results[0]["examples"]
    # The vote written as an answer and read back as eval reads one: the same scoring, records and error classes.
    records = [{"id": ex["id"], "input": ex["input"], "output": _answer(Extraction.from_dict(ex["gold"]))} for ex in first]
    voted = [vote([Extraction.from_dict(r["examples"][i]["prediction"]) for r in results], min_votes)
             for i in range(len(first))]
    scores, examples = score_generations(records, [_answer(v) for v in voted])
    split = str(results[0]["split"])
    out = build_results(scores, examples, model_dir=None,
                        model_name=f"vote of {len(runs)} runs ({min_votes} votes)", split=split,
                        generation_s=sum(float(r.get("timing", {}).get("generation_s") or 0) for r in results))
    out["vote"] = {"runs": runs, "models": [r.get("model") for r in results], "min_votes": min_votes}
    path = write_results(out, run_dir / RESULTS_FILE)
    plots = write_plots(out, run_dir / "plots")
    log.info("Vote of %d runs (at least %d votes each) on %d %s examples; results in %s", len(runs), min_votes,
             len(examples), split, path)
    print_summary(out)
    ctx.tracker.log_evaluation(out, path, plots)
    return metric_names(split, scores.headline())


def _answer(extraction) -> str:
    from odin.format import render

    return render(extraction.entities, extraction.relations)
