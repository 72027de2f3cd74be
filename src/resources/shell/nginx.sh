# shellcheck shell=bash
# nginx -t of a candidate file in the configuration as nginx would read it.
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# panel_nginx_test CANDIDATE TARGET: 'nginx -t' of the configuration as it
# would be with CANDIDATE in place of TARGET — a temporary main config (beside
# nginx.conf, so relative includes resolve) whose include lines list every
# file they match except TARGET, plus CANDIDATE. The live files are untouched.
panel_nginx_test() {
  local cand=$1 target=$2 conf=${PANEL_NGINX_CONF:-/etc/nginx/nginx.conf} dir t line pat ind f hit rc=0 swapped=0
  dir=$(dirname -- "$conf")
  t=$(mktemp "$dir/.panel-validate.XXXXXXXX") || return 1
  while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line =~ ^([[:space:]]*)include[[:space:]]+([^\;[:space:]]+)[[:space:]]*\;[[:space:]]*$ ]]; then
      ind=${BASH_REMATCH[1]}
      pat=${BASH_REMATCH[2]}
      [[ $pat = /* ]] || pat="$dir/$pat"
      hit=0
      # shellcheck disable=SC2053 # $pat is the include's glob: matching it as a pattern is the point
      if [[ $target == $pat ]]; then hit=1; fi
      if [ "$hit" = 1 ]; then
        for f in $pat; do
          if [ "$f" != "$target" ] && [ -e "$f" ]; then printf '%sinclude %s;\n' "$ind" "$f"; fi
        done
        printf '%sinclude %s;\n' "$ind" "$cand"
        swapped=1
        continue
      fi
    fi
    printf '%s\n' "$line"
  done < "$conf" > "$t"
  if [ "$swapped" = 0 ]; then rm -f -- "$t"; printf '%s is not included by %s; cannot test it\n' "$target" "$conf"; return 1; fi
  nginx -t -c "$t" || rc=$?
  rm -f -- "$t"
  return "$rc"
}

# panel_nginx_test_refs TEMP LIVE [TEMP LIVE]...: 'nginx -t' of the
# configuration as it would be with each LIVE file (a certificate, its key)
# replaced by its TEMP: a temporary main config beside nginx.conf in which
# every line naming a LIVE path names its TEMP instead, and so does a
# temporary copy of each file its includes match that names one (other
# included files are included as they are). The live files are untouched.
panel_nginx_test_refs() {
  local conf=${PANEL_NGINX_CONF:-/etc/nginx/nginx.conf} dir t line pat ind f c i j rc=0
  local -a made=() live=()
  [ $(($# % 2)) = 0 ] || { echo "panel_nginx_test_refs: TEMP LIVE pairs expected"; return 1; }
  for ((f = 2; f <= $#; f += 2)); do live+=(-e "${!f}"); done
  dir=$(dirname -- "$conf")
  t=$(mktemp "$dir/.panel-validate.XXXXXXXX") || return 1
  made+=("$t")
  while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line =~ ^([[:space:]]*)include[[:space:]]+([^\;[:space:]]+)[[:space:]]*\;[[:space:]]*$ ]]; then
      ind=${BASH_REMATCH[1]}
      pat=${BASH_REMATCH[2]}
      [[ $pat = /* ]] || pat="$dir/$pat"
      # The include as it is, unless a file it matches names a LIVE path.
      c=
      for f in $pat; do [ -f "$f" ] && grep -qF "${live[@]}" -- "$f" && c=1 && break; done
      if [ -n "$c" ]; then
        for f in $pat; do
          [ -e "$f" ] || continue
          if grep -qF "${live[@]}" -- "$f"; then
            c=$(mktemp "$dir/.panel-validate.XXXXXXXX") || { rc=1; break; }
            made+=("$c")
            panel_nginx_swap_refs "$@" < "$f" > "$c" || { rc=1; break; }
            f=$c
          fi
          printf '%sinclude %s;\n' "$ind" "$f"
        done
        continue
      fi
    fi
    for ((i = 1; i < $#; i += 2)); do j=$((i + 1)); line=${line//"${!j}"/"${!i}"}; done
    printf '%s\n' "$line"
  done < "$conf" > "$t"
  [ "$rc" = 0 ] && { nginx -t -c "$t" || rc=$?; }
  rm -f -- "${made[@]}"
  return "$rc"
}

# panel_nginx_swap_refs TEMP LIVE [TEMP LIVE]...: stdin to stdout with every LIVE path changed to its TEMP.
panel_nginx_swap_refs() {
  local line i
  local -a a=("$@")
  while IFS= read -r line || [ -n "$line" ]; do
    for ((i = 0; i < ${#a[@]}; i += 2)); do line=${line//"${a[i + 1]}"/"${a[i]}"}; done
    printf '%s\n' "$line"
  done
}

# panel_nginx_reload [test]: reload nginx when it runs (a stopped nginx reads
# its files when it starts); with "test", only after 'nginx -t' accepts the
# configuration (nginx would keep the old one without a word).
panel_nginx_reload() {
  if [ -d /run/systemd/system ]; then
    systemctl is-active --quiet nginx 2>/dev/null || return 0
    if [ "${1:-}" = test ]; then nginx -t -q || return 1; fi
    systemctl reload nginx
  elif [ -s /run/nginx.pid ]; then
    if [ "${1:-}" = test ]; then nginx -t -q || return 1; fi
    nginx -s reload
  fi
}
