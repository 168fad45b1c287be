from subagents.offline.text import clean, content_words, sentence_spans, stem


def test_sentence_spans_are_verbatim_slices_without_markup() -> None:
    text = "{vocalsound} Um , the clunky one is the one on the right . It's got much fewer buttons {disfmarker} and so on"
    spans = sentence_spans(text)
    assert spans, "expected sentences"
    for s in spans:
        assert text[s.start : s.end] == s.text
        assert "{" not in s.text
    assert spans[0].text.startswith("the clunky one")
    assert any(s.text.startswith("It's got much fewer buttons") for s in spans)


def test_clean_fixes_transcript_spacing_and_spelled_acronyms() -> None:
    assert clean("that P_R_T_ thing , is {gap} confusing .") == "that PRT thing, is confusing."


def test_content_words_drop_fillers_and_stopwords() -> None:
    assert content_words("Um yeah I think the battery should be rechargeable") == [
        "battery",
        "rechargeable",
    ]


def test_stem_folds_plurals_and_clitics() -> None:
    assert stem("buttons") == "button" and stem("batteries") == "battery"
    assert stem("it's") == "it" and stem("glass") == "glass"
