# shellcheck shell=bash
# The facts of one file (parsed by file.ts).
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# panel_file_facts PATH WITH_CONTENT [WANT_SHA] -> key=value lines: exists,
# type, mode, owner, uid, group, gid, size, sha256 and (WITH_CONTENT=1,
# regular file <= 256 KiB, its sha256 not WANT_SHA) content=<base64>, for the
# diff. One stat process per path (its last line is the stat cache's key; a
# regular file is no symlink, so lstat and stat agree); a converged file
# costs no hash and no base64.
panel_file_facts() {
  local p=$1 wc=${2:-0} want=${3:-} t out key sha
  if [ -L "$p" ]; then t=symlink
  elif [ -f "$p" ]; then t='file'
  elif [ -d "$p" ]; then t=directory
  elif [ -e "$p" ]; then t=other
  else echo exists=0; return 0; fi
  echo exists=1
  echo "type=$t"
  out=$(stat -c $'mode=%a\nowner=%U\nuid=%u\ngroup=%G\ngid=%g\nsize=%s\n%s %.9Y %i' -- "$p") || return 1
  key=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  if [ "$t" = file ]; then
    sha=$(panel_sha256_keyed "$p" "$key")
    echo "sha256=$sha"
    if [ "$wc" = 1 ] && [ "${key%% *}" -le "$PANEL_MAX_DIFF_BYTES" ] && [ "$sha" != "$want" ]; then
      printf 'content='; base64 -w0 < "$p"; echo
    fi
  fi
}
