# shellcheck shell=bash
# The facts of one file (parsed by file.ts).
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# What stat prints for a path: its raw mode in hex (the type), the lines
# panel_file_facts passes on, and the stat cache's key ("size mtime inode";
# a regular file is no symlink, so lstat and stat agree).
PANEL_FILE_STAT_FORMAT=$'%f\nmode=%a\nowner=%U\nuid=%u\ngroup=%G\ngid=%g\nsize=%s\n%s %.9Y %i'
PANEL_FILE_STAT_RE=$'^[0-9a-f]+\nmode=[0-7]+\nowner=[^\n]*\nuid=[0-9]+\ngroup=[^\n]*\ngid=[0-9]+\nsize=[0-9]+\n[0-9]+ [0-9.]+ [0-9]+$'
# PANEL_FILE_STAT[path]: that answer, for the paths panel_files_prefetch read.
declare -A PANEL_FILE_STAT=()

# panel_files_prefetch PATH...: the stat of every path the batch's file facts
# read, in one stat process instead of one per path. Each answer is its path's
# line and the format's 8 lines (paths hold no newline: checkPath); a path
# stat cannot read prints nothing, and an answer that is not of that form
# ends the reading: such paths are looked at by panel_file_facts itself.
panel_files_prefetch() {
  local p rec line i
  local -A asked=()
  for p in "$@"; do [ -z "$p" ] || asked[$p]=1; done
  while IFS= read -r p; do
    [ -n "$p" ] && [ -n "${asked[$p]+set}" ] || return 0
    rec=
    for ((i = 0; i < 8; i++)); do IFS= read -r line || return 0; rec+=${rec:+$'\n'}$line; done
    [[ $rec =~ $PANEL_FILE_STAT_RE ]] || return 0
    PANEL_FILE_STAT[$p]=$rec
  done < <(stat -c "%n"$'\n'"$PANEL_FILE_STAT_FORMAT" -- "$@" 2>/dev/null)
}

# panel_file_facts PATH WITH_CONTENT [WANT_SHA] -> key=value lines: exists,
# type, mode, owner, uid, group, gid, size, sha256 and (WITH_CONTENT=1,
# regular file <= 256 KiB, its sha256 not WANT_SHA) content=<base64>, for the
# diff. The stat prefetched for the batch, else one stat process; a converged
# file costs no hash and no base64 (and no process when prefetched).
panel_file_facts() {
  local p=$1 wc=${2:-0} want=${3:-} t out key sha m
  out=
  [ -z "$p" ] || out=${PANEL_FILE_STAT[$p]:-}
  if [ -n "$out" ]; then
    m=$(( 0x${out%%$'\n'*} & 0xF000 ))
    if [ "$m" -eq $((0xA000)) ]; then t=symlink
    elif [ "$m" -eq $((0x8000)) ]; then t='file'
    elif [ "$m" -eq $((0x4000)) ]; then t=directory
    else t=other; fi
    echo exists=1
    echo "type=$t"
  else
    if [ -L "$p" ]; then t=symlink
    elif [ -f "$p" ]; then t='file'
    elif [ -d "$p" ]; then t=directory
    elif [ -e "$p" ]; then t=other
    else echo exists=0; return 0; fi
    echo exists=1
    echo "type=$t"
    out=$(stat -c "$PANEL_FILE_STAT_FORMAT" -- "$p") || return 1
  fi
  out=${out#*$'\n'}
  key=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  if [ "$t" = file ]; then
    panel_sha256_set "$p" "$key"
    sha=$PANEL_SUM
    echo "sha256=$sha"
    if [ "$wc" = 1 ] && [ "${key%% *}" -le "$PANEL_MAX_DIFF_BYTES" ] && [ "$sha" != "$want" ]; then
      printf 'content='; base64 -w0 < "$p"; echo
    fi
  fi
}
