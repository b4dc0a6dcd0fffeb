"""Static checks of ordered match rules: Classifier arms and Firewall rules (docs/analysis.md).

    space.py       the header space: match expressions as exact unions of boxes
    cubes.py       interval sets and boxes (cubes), and their algebra
    regions.py     first-match partitions of a box, and an index over many boxes
    witness.py     a real frame for a point of a box: its bytes and a description
    order.py       first match over an ordered list: who decides what
    classifier.py  arms that never match, overlapping arms
    firewall.py    shadowed and redundant rules
"""
