"""permute.py SRC DST: the network SRC with its [JUNCTIONS] and [PIPES] data
lines shuffled (fixed seed): the same physics, other node and link numbers,
so another elimination order in EPANET's sparse Cholesky (variant P)."""
import random, sys
src, dst = sys.argv[1], sys.argv[2]
rng = random.Random(1)
out, buf, sec = [], [], None
def flush():
    global buf
    if sec in ("[JUNCTIONS]", "[PIPES]"):
        data = [l for l in buf if l.split(";")[0].strip()]
        rng.shuffle(data)
        out.extend([l for l in buf if not l.split(";")[0].strip()] + data)
    else:
        out.extend(buf)
    buf = []
# latin-1 maps every byte to one character: IDs keep their bytes.
for line in open(src, encoding="latin-1", newline=""):
    if line.strip().startswith("["):
        flush()
        sec = line.split()[0].upper()
        out.append(line)
    else:
        buf.append(line)
flush()
open(dst, "w", encoding="latin-1", newline="").write("".join(out))
