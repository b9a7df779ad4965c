"""`python3 -m unittest MODULE...`, then one line per skipped test with its
reason, which unittest shows only with -v:
    skipped tests.mod.Class.test_name: reason
tests/run-all.sh gathers these lines above its summary."""
import unittest


class Runner(unittest.TextTestRunner):
    def run(self, test):
        result = super().run(test)
        for case, reason in result.skipped:
            self.stream.writeln("skipped %s: %s" % (case.id(), reason))
        self.stream.flush()
        return result


if __name__ == "__main__":
    unittest.main(module=None, testRunner=Runner)
