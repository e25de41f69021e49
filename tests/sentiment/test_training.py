"""`ascolto sentiment train`: a brand retrains the head on its own texts and corrections."""

import json

import pytest

from sentiment.runtime.heads import LinearHead

pytestmark = pytest.mark.model

NEGATIVE = ["Pacco arrivato rotto", "Servizio pessimo", "Mai più", "Rimborso mai arrivato", "Terribile esperienza",
            "The worst order ever", "Broken on arrival", "Nobody answers my emails"]
NEUTRAL = ["Ordine numero 4412", "Il corriere passa domani", "Avete la moka da 6?", "Negozio aperto la domenica?",
           "Order placed on Monday", "Which grind for a moka?", "Spedizione in Sardegna?", "Price list please"]
POSITIVE = ["Caffè buonissimo", "Consegna velocissima, grazie", "Adoro questa miscela", "Servizio perfetto",
            "Great coffee, love it", "Fast delivery, thank you", "Best espresso at home", "Ottimo come sempre"]


def write(path, rows):
    path.write_text("".join(json.dumps({"text": t, "label": label}, ensure_ascii=False) + "\n" for t, label in rows))
    return path


def test_train_with_corrections_compares_before_and_after(tmp_path, make_app, ascolto):
    rows = [(t, "negative") for t in NEGATIVE] + [(t, "neutral") for t in NEUTRAL] + [(t, "positive") for t in POSITIVE]
    train = write(tmp_path / "train.jsonl", rows[0::2])
    val = write(tmp_path / "val.jsonl", rows[1::2])
    app = make_app()
    config = app.config.path
    app.db["mentions"].insert({"id": "x:1", "source": "x", "native_id": "1", "brand": "Caffè Aurora", "text":
                               "Caffè Aurora, altro che 'ottimo servizio'...", "created_at": "2026-11-20T10:00:00Z",
                               "collected_at": "2026-11-20T10:00:00Z", "sentiment": "positive"})
    app.close()
    assert ascolto(["sentiment", "correct", "mention", "x:1", "negative", "--config", str(config)]).exit_code == 0
    out = tmp_path / "head.json"
    result = ascolto(["sentiment", "train", "--train", str(train), "--val", str(val), "--corrections",
                                 "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "validation file" in result.output and "before" in result.output and "after" in result.output
    table = [line.split() for line in result.output.splitlines() if line.startswith("val ")]
    assert len(table) == 1 and all(0 <= float(v) <= 1 for v in table[0][1:3])
    head = LinearHead.load(out)
    assert head.weight.shape == (3, 384) and head.info["train"] == ["train", "corrections"]


def test_corrections_without_config_is_one_clear_line(tmp_path, ascolto):
    val = write(tmp_path / "val.jsonl", [("ok", "neutral")])
    result = ascolto(["sentiment", "train", "--val", str(val), "--corrections", "--out",
                                      str(tmp_path / "h.json")], env={"ASCOLTO_CONFIG": ""})
    assert result.exit_code == 1 and result.output.strip() == "Error: --corrections needs --config (the database holding them)"
