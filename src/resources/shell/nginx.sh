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
