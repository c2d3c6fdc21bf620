"""Execute a notebook top to bottom and save the executed copy.

Usage: python notebooks/execute.py NOTEBOOK.ipynb OUT.ipynb
The kernel is the venv's own (scripts/setup-python installs ipykernel),
listening on loopback only; the working directory is the notebook's folder. Exits
non-zero, naming the cell, when a cell raises.
"""
import os
import sys

import nbclient
import nbformat

src, out = sys.argv[1], sys.argv[2]
nb = nbformat.read(src, as_version=4)
client = nbclient.NotebookClient(
    nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}}
)
try:
    client.execute()
except nbclient.exceptions.CellExecutionError as e:
    nbformat.write(nb, out)
    print(f"{src}: a cell failed:\n{e}", file=sys.stderr)
    sys.exit(1)
nbformat.write(nb, out)
