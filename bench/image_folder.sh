#!/usr/bin/env bash
# image_folder throughput (issue #21): decode + augment images/s of lthost's image_folder
# data plugin against torchvision's ImageFolder + DataLoader, with the same number of
# workers on the same generated folder (CLASSES x PER_CLASS images of about SIDE pixels a
# side, half PNG, half JPEG) and the same transforms: Resize(RESIZE), RandomCrop(CROP),
# RandomHorizontalFlip, ToTensor, Normalize; batch 32, shuffled, one epoch. lthost's number
# is the epoch line's samples/s of `lthost fit` with a module that only receives the
# batches (tests/e2e/plugins/batch_dump.so --model.out ''); torchvision's is the images
# over the time from iter(loader) to the epoch's end (workers started inside both); the
# CPU time per image counts every thread and worker process. Best images/s of 3 each. Appends to
# bench/RESULTS.md. usage: bench/image_folder.sh [WORKERS [PER_CLASS [SIDE]]]
# Needs build/ (plain) and a python with torchvision ($PYTHON, default the reference venv).
set -euo pipefail
cd "$(dirname "$0")/.."
workers=${1:-2} per=${2:-100} side=${3:-256} classes=10 resize=256 crop=224
py=${PYTHON:-tests/reference/.venv/bin/python}
export LT_PLUGIN_PATH=$PWD/build/plugins/accelerators/cpu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
build/tests/image_gen "$dir/imgs" $classes "$per" "$side" 1 mixed
n=$((classes * per))
# Each prints "images/s CPU-ms/image": the CPU time (user + system, workers included) says
# more than the wall time on a shared machine.
lthost_ips() {
    (cd "$dir" && /usr/bin/time -f "cpu %U %S" "$OLDPWD/build/host/lthost" fit \
        --module "$OLDPWD/build/tests/e2e/plugins/batch_dump.so" \
        --model.out '' --data "$OLDPWD/build/plugins/data/image_folder/image_folder.so" \
        --data.root "$dir/imgs" --data.val_fraction 0 --data.test_fraction 0 \
        --data.resize $resize --data.crop $crop --data.random_crop true --data.hflip true \
        --data.mean 0.485,0.456,0.406 --data.std 0.229,0.224,0.225 --data.batch_size 32 \
        --data.num_workers "$workers" --max_epochs 1 --logger false --enable_progress_bar false \
        --enable_checkpointing false --enable_model_summary false --test_after_fit false \
        --accelerator cpu) 2>&1 |
        awk -v n=$n '/^Epoch 1\/1/ { sub(/.*, /, ""); ips = $1 } /^cpu / { cpu = $2 + $3 }
                     END { if (ips) printf "%s %.2f\n", ips, cpu * 1000 / n }'
}
torch_ips() {
    "$py" - "$dir/imgs" "$workers" $resize $crop <<'PY'
import resource, sys, time
import torch
from torchvision import datasets, transforms
root, workers, resize, crop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
tf = transforms.Compose([transforms.Resize(resize), transforms.RandomCrop(crop),
                         transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                         transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
ds = datasets.ImageFolder(root, tf)
dl = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers)
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
t, c0 = time.perf_counter(), cpu()
seen = sum(x.shape[0] for x, _ in dl)
del dl  # the workers exit and are reaped: their CPU time counts
print(f"{seen / (time.perf_counter() - t):.1f} {(cpu() - c0) * 1000 / seen:.2f}")
PY
}
best() { sort -g -k1 | tail -1; }
lt=$(for i in 1 2 3; do lthost_ips; done | best)
tv=$(for i in 1 2 3; do torch_ips; done | best)
[ -n "$lt" ] && [ -n "$tv" ] || { echo "image_folder: a measurement failed (lthost '$lt', torchvision '$tv')" >&2; exit 1; }
ver=$("$py" -c "import torchvision, PIL; print(f'torchvision {torchvision.__version__}, Pillow {PIL.__version__}')")
{
    echo
    echo "## image_folder decode + augment (\`bash bench/image_folder.sh $workers $per $side\`, $(date +%F), $(nproc) cores, $ver)"
    echo
    echo "$n images ($classes classes, ${side}-$((side + 7)) px a side, half PNG, half JPEG q95); Resize($resize),"
    echo "RandomCrop($crop), RandomHorizontalFlip, ToTensor, Normalize; batch 32, $workers workers, one"
    echo "shuffled epoch, best of 3. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| loader | images/s | CPU ms / image |"
    echo "| --- | ---: | ---: |"
    echo "| lthost image_folder (fit epoch, batches only) | ${lt% *} | ${lt#* } |"
    echo "| torchvision ImageFolder + DataLoader | ${tv% *} | ${tv#* } |"
} | tee -a bench/RESULTS.md
