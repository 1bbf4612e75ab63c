"""Records Lightning 2.6's batch size search (tuner/batch_size_scaling.py: _run_power_scaling,
_run_binsearch_scaling, _adjust_batch_size) with a fake out-of-memory: a trial fails when
its size exceeds a threshold. Writes tests/fixtures/bs_scaling_lightning.csv, one scenario a
line: mode,init_val,max_trials,oom_above,dataset_len,start,margin,max_val,found,tried sizes.
Run: tests/reference/.venv/bin/python tests/reference/bs_scaling.py"""
import os
import sys
from types import SimpleNamespace

import lightning.pytorch.tuner.batch_size_scaling as bss

tried = []


class Loader:
    def __init__(self, n):
        self.n = n

    def _dataset_length(self):
        return self.n


def scenario(mode, init_val, max_trials, oom_above, dataset_len, start, margin, max_val):
    model = SimpleNamespace(batch_size=start, _trainer=None)
    loop = SimpleNamespace(setup_data=lambda: None, _combined_loader=Loader(dataset_len))
    trainer = SimpleNamespace(lightning_module=model, _active_loop=loop)
    tried.clear()

    def try_run(tr, params):
        tried.append(model.batch_size)
        if model.batch_size > oom_above:
            raise RuntimeError("CUDA out of memory. (fake)")

    bss._try_loop_run = try_run
    bss._reset_progress = lambda tr: None
    bss._reset_dataloaders = lambda tr: None
    bss.garbage_collection_cuda = lambda: None
    size, _ = bss._adjust_batch_size(trainer, "batch_size", value=init_val)
    if mode == "power":
        found = bss._run_power_scaling(trainer, size, "batch_size", max_trials, {}, max_val)
    else:
        found = bss._run_binsearch_scaling(trainer, size, "batch_size", max_trials, {}, margin,
                                           max_val)
    return found, list(tried)


def main():
    rows = []
    for mode in ("power", "binsearch"):
        for init_val, max_trials, oom_above, dataset_len, start, margin, max_val in [
            (2, 25, 100, 100000, 32, 0.0, 8192),  # grows until 128 fails
            (2, 25, 1, 100000, 32, 0.0, 8192),  # the first trial fails
            (2, 3, 100, 100000, 32, 0.0, 8192),  # max_trials stops it
            (2, 25, 100000, 50, 32, 0.0, 8192),  # the dataset (50) stops the growth
            (3, 25, 37, 100000, 32, 0.0, 8192),  # an odd start
            (2, 25, 20000, 100000, 32, 0.0, 8192),  # max_val 8192
            (2, 25, 100, 100000, 32, 0.1, 8192),  # binsearch's margin
            (2, 1, 100, 100000, 32, 0.0, 8192),  # one trial
            (5, 25, 1000, 40, 64, 0.0, 8192),  # the start already over the dataset: init_val ignored
            (2, 25, 100000, 100000, 32, 0.0, 64),  # a smaller max_val stops the growth
            (2, 25, 100000, 100000, 32, 0.0, 100),  # binsearch caps its growth at max_val
            (2, 25, 70, 100000, 32, 0.0, 100),  # max_val above the limit: bisects as before
        ]:
            if mode == "power" and margin:
                continue
            found, seq = scenario(mode, init_val, max_trials, oom_above, dataset_len, start, margin,
                                  max_val)
            rows.append(f"{mode},{init_val},{max_trials},{oom_above},{dataset_len},{start},{margin},"
                        f"{max_val},{found},{' '.join(map(str, seq))}")
    out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "bs_scaling_lightning.csv")
    with open(out, "w") as f:
        f.write("mode,init_val,max_trials,oom_above,dataset_len,start,margin,max_val,found,tried\n")
        f.write("\n".join(rows) + "\n")
    print("\n".join(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
