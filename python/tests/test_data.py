"""The answer mask comes from the processor's own layout: the rows the engine builds equal what the
processor makes of the full chat text (prompt + image + answer + end of turn), and the mask covers
exactly the answer tokens plus the end-of-turn token."""
import json

import pytest

from jobs import draw, make_records, write_images
from mdpo_torch.data import Limits, Row, answer_ids, build_batch, fit_answer, load_pairs, prompt_text
from mdpo_torch.errors import DataError
from mdpo_torch.models import load_processor

END_OF_TURN = {"qwen2_vl": "<|im_end|>", "idefics3": "<end_of_utterance>", "llava": "</s>", "llava_onevision": "<|im_end|>"}


@pytest.mark.parametrize("family", ["qwen2_vl", "idefics3", "llava", "llava_onevision"])
def test_rows_equal_the_processors_own_output_and_mask_the_answer(tiny_model, family):
    processor = load_processor(tiny_model(family))
    tok = processor.tokenizer
    prompts, answers = ["What colour is it?", "Describe it."], ["A red square.", "Blue, round"]
    images = [draw(0), draw(1, size=(40, 32))]
    rows = []
    for p, a, im in zip(prompts, answers, images):
        rows.append(Row(prompt_text(processor, p, True), im, tuple(answer_ids(processor, p, a, True, where="t"))))
    batch = build_batch(processor, rows, tok.pad_token_id)
    for r, (p, a, im) in enumerate(zip(prompts, answers, images)):
        msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": p}]},
                {"role": "assistant", "content": [{"type": "text", "text": a}]}]
        full = processor.apply_chat_template(msgs, tokenize=False)
        own = processor(text=[full], images=[[im]], return_tensors="pt")["input_ids"][0].tolist()
        n = int(batch.inputs["attention_mask"][r].sum())
        assert batch.inputs["input_ids"][r, :n].tolist() == own[:n]  # the processor's layout, answer included
        masked = batch.inputs["input_ids"][r][batch.answer_mask[r]].tolist()
        assert tok.decode(masked[:-1]).strip() == a  # the answer's tokens ...
        assert tok.convert_ids_to_tokens(masked[-1]) == END_OF_TURN[family]  # ... plus the end-of-turn token
        assert not batch.answer_mask[r, n:].any()  # padding never counts
        image_id = processor.image_token_id if hasattr(processor, "image_token_id") else None
        if image_id is not None:
            assert not (batch.inputs["input_ids"][r][batch.answer_mask[r]] == image_id).any()


def test_answers_are_truncated_from_the_end_keeping_the_end_token():
    limits = Limits(max_length=20, max_prompt_length=10, max_answer_length=4)
    assert fit_answer([1, 2, 3, 4, 5, 99], 8, limits, where="r") == [1, 2, 3, 99]
    assert fit_answer([1, 2, 3, 4, 5, 99], 17, Limits(20, 18, 4), where="r") == [1, 2, 99]  # 20 - 17 = 3 tokens left
    with pytest.raises(DataError, match="r: the prompt with its image takes 19 tokens.*no room for the answer"):
        fit_answer([1, 2, 99], 19, Limits(max_length=20, max_prompt_length=100), where="r")
    with pytest.raises(DataError, match="more than maxPromptLength 10"):
        fit_answer([1, 99], 11, limits, where="r")


def test_manifest_mismatches_name_the_file_and_field(tmp_path):
    records = make_records(3)
    (tmp_path / "r.json").write_text(json.dumps(records))
    images = write_images(tmp_path / "img", records, seed=3, skip={1})
    logs = []
    pairs = load_pairs(tmp_path / "r.json", images, seed=3, negative={"strategy": "crop", "fixedPerPair": True},
                       need_negatives=True, log=logs.append)
    assert [p.id for p in pairs] == ["pair-0", "pair-2"]
    assert logs == ["skipped record 1 (pair-1): image-not-found: test"]
    with pytest.raises(DataError, match=r"manifest.json: field 'seed' is 3 but the run's seed is 4"):
        load_pairs(tmp_path / "r.json", images, seed=4, negative={}, need_negatives=True)
    with pytest.raises(DataError, match=r"strategy.cropMax"):
        load_pairs(tmp_path / "r.json", images, seed=3, negative={"cropMax": 0.5}, need_negatives=True)
    (images / "neg" / "000002-e0.png").unlink()
    with pytest.raises(DataError, match=r"pairs\[2\].negatives\[0\] names .*000002-e0.png, which does not exist"):
        load_pairs(tmp_path / "r.json", images, seed=3, negative={}, need_negatives=True)
    bad = [dict(records[0], chosen=7)] + records[1:]
    (tmp_path / "r.json").write_text(json.dumps(bad))
    with pytest.raises(DataError, match=r"Record 0 of .*r.json: field 'chosen' must be a string"):
        load_pairs(tmp_path / "r.json", images, seed=3, negative={}, need_negatives=True)
