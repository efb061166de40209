#!/bin/sh
# `se` on every shipped d = 1 model with two builds of the CLI, interleaved in one run:
#   sh benches/se_before_after.sh OLD_BINARY NEW_BINARY [ROUNDS]
# e.g. a binary built from the commit before a change (`git worktree add /tmp/old REV &&
# cargo build --release` there) against target/release/mlamp. Prints, per model, the median
# wall time of each over ROUNDS (default 3) rounds and their ratio.
set -eu
old=$1
new=$2
rounds=${3:-3}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
stamp() { date +%s.%N; }
cpu() { /usr/bin/time -f '%U + %S' "$@" 2>&1 > /dev/null | tail -1 | bc -l; }
printf '%-20s %10s %10s %7s %10s %10s %7s\n' model old_wall new_wall ratio old_cpu new_cpu ratio
for f in examples/models/*.toml; do
    "$old" se "$f" > /dev/null 2>&1 || continue
    : > /tmp/se_old.$$
    : > /tmp/se_new.$$
    : > /tmp/se_oldc.$$
    : > /tmp/se_newc.$$
    i=0
    while [ "$i" -lt "$rounds" ]; do
        t0=$(stamp); "$old" se "$f" > /dev/null 2>&1; t1=$(stamp)
        echo "$t1 - $t0" | bc -l >> /tmp/se_old.$$
        t0=$(stamp); "$new" se "$f" > /dev/null 2>&1; t1=$(stamp)
        echo "$t1 - $t0" | bc -l >> /tmp/se_new.$$
        cpu "$old" se "$f" >> /tmp/se_oldc.$$
        cpu "$new" se "$f" >> /tmp/se_newc.$$
        i=$((i + 1))
    done
    a=$(median < /tmp/se_old.$$)
    b=$(median < /tmp/se_new.$$)
    c=$(median < /tmp/se_oldc.$$)
    d=$(median < /tmp/se_newc.$$)
    # CPU times come in steps of 0.01 s: no ratio below that.
    r=$(echo "if ($d >= 0.01) $c / $d else 0" | bc -l)
    printf '%-20s %10.4f %10.4f %7.1f %10.2f %10.2f %7.1f\n' "$(basename "$f" .toml)" "$a" "$b" \
        "$(echo "$a / $b" | bc -l)" "$c" "$d" "$r"
done
rm -f /tmp/se_old.$$ /tmp/se_new.$$ /tmp/se_oldc.$$ /tmp/se_newc.$$
