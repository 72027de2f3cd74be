# shellcheck shell=bash
# The facts of an extracted archive (parsed by archive.ts).
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# panel_members_facts DIR MEMBER... -> "cur=SHA256 MODE MEMBER" per member
# ("-" for what is not there; sha256 "-" unless a regular file): one stat
# for all members (mode and the stat cache's key, following links as
# panel_sha256 does), a hash only on a cache miss.
panel_members_facts() {
  local into=$1 m f line sha mode
  local -a paths=()
  local -A st=()
  shift
  for m in "$@"; do paths+=("$into/$m"); done
  while IFS= read -r line; do
    mode=${line%% *}; line=${line#* }
    f=${line#* * * }
    st[$f]="$mode ${line%" $f"}"
  done < <(stat -L -c '%a %s %.9Y %i %n' -- "${paths[@]}" 2>/dev/null)
  for m in "$@"; do
    f=$into/$m
    line=${st[$f]:-}
    if [ -z "$line" ]; then echo "cur=- - $m"; continue; fi
    mode=${line%% *}
    sha=-
    if [ -f "$f" ]; then panel_sha256_set "$f" "${line#* }"; sha=$PANEL_SUM; fi
    echo "cur=$sha $mode $m"
  done
}

# panel_tree_digest DIR -> "<sha256> <entries>": the type, mode, size (not
# for directories: file-system dependent), mtime, path and link target of
# everything below DIR. A fixed number of processes whatever the number of
# files (one find, one sort), so a no-op over 10^4 files stays cheap.
panel_tree_digest() {
  local l
  [ -d "$1" ] || return 1
  l=$(cd -- "$1" && find . -mindepth 1 \( -type d -printf '%y %m - %T@ %P\n' \) -o -printf '%y %m %s %T@ %P -> %l\n' | LC_ALL=C sort) || return 1
  printf '%s %s\n' "$(printf '%s\n' "$l" | sha256sum | cut -d' ' -f1)" "$(printf '%s\n' "$l" | grep -c '')"
}
