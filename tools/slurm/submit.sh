#!/bin/bash
# Submits a semg cohort to Slurm: an array of SHARDS tasks (default: one per 20 recordings, at
# most 1000) over tools/slurm/semg-array.sbatch, then `semg merge RESULTS` once every task ended.
#   tools/slurm/submit.sh INPUT RESULTS [semg analyze options...]
# Environment: SEMG (the semg binary), SHARDS, SBATCH_ARGS (e.g. "--partition=short --time=1:00:00").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
input="$1"
results="$2"
shift 2
semg="${SEMG:-semg}"
recordings=$("$semg" analyze "$input" --out "$results" --list "$@" | wc -l)
shards="${SHARDS:-$(( (recordings + 19) / 20 ))}"
if [ "$shards" -gt 1000 ]; then shards=1000; fi
if [ "$shards" -gt "$recordings" ]; then shards="$recordings"; fi
mkdir -p "$results"
array=$(sbatch --parsable ${SBATCH_ARGS:-} --array="1-${shards}" --chdir="$PWD" \
    --export=ALL,SEMG="$semg" "$here/semg-array.sbatch" "$input" "$results" "$@")
merge=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency="afterany:${array%%;*}" --chdir="$PWD" \
    --job-name=semg-merge --output=semg-merge-%j.log --wrap "\"$semg\" merge \"$results\" -q || test \$? -eq 1")
echo "$recordings recordings in $shards shards: array job ${array%%;*}, merge job ${merge%%;*}"
