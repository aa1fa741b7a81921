"""``did_you_mean``: the suffix of every "not one of" message."""

from reflect.errors import did_you_mean


def test_names_the_closest_choice() -> None:
    assert did_you_mean("cuad", ["auto", "cpu", "cuda", "mps"]) == " (did you mean 'cuda'?)"
    assert did_you_mean("instnce", ("batch", "instance", "none")) == " (did you mean 'instance'?)"


def test_says_nothing_when_no_choice_is_close_enough() -> None:
    assert did_you_mean("zzz", ["auto", "cpu"]) == ""
    assert did_you_mean("anything", []) == ""
    # 'ngff' ~ 'ngf' has ratio 6/7: a match at the default cutoff 0.5 and at the config keys' 0.6
    assert did_you_mean("ngff", ["ngf", "ndf"], cutoff=0.6) == " (did you mean 'ngf'?)"
    assert did_you_mean("lr", ["learning_rate"], cutoff=0.6) == ""
