"""Sampler reference body: 1 in N, or each packet with probability p from a seeded splitmix64."""

from chainc.nfs.reference import ReferenceNf

from .spec import threshold53

OUT, SAMPLE = 0, 1
MASK64 = (1 << 64) - 1


class SplitMix64:
    """The generator named in the spec: 64-bit state, golden-ratio increment."""

    def __init__(self, seed: int):
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.counters = {"sampled": 0, "copy_failed": 0}
        self.every = self.params.get("every")
        self.seen = 0
        self.threshold = threshold53(self.params.get("probability"))
        self.rng = SplitMix64(self.params["seed"])

    def _take(self) -> bool:
        if self.every:
            self.seen += 1
            return self.seen % self.every == 0
        return (self.rng.next() >> 11) < self.threshold

    def process(self, pkt, in_port):
        if self._take():
            self.counters["sampled"] += 1
            self.emit(pkt.copy(self.params["snaplen"]), SAMPLE)
        return OUT
