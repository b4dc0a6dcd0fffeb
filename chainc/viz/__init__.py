"""Pictures and live views of a chain.

    describe   what is shown of a node (name, type, key parameters, source line)
    plan       the plan description drawn by --plan, and its adapter from the backend
    statsfile  the one loader of the statistics JSON (native binary and `chainc sim`)
    dot        the Graphviz DOT text of a chain, with the plan and statistics overlays
    render     runs Graphviz's `dot` for .svg, .png and .pdf
    html       the self-contained page: inline SVG, pan/zoom, details, live statistics
    serve      the localhost server behind the live page
    text       `chainc show`: the chain as text for a terminal
    top        `chainc top`: a refreshing per-NF table of rates and drops
"""
