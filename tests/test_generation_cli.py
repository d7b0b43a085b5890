"""``python -m core.generation``: JSON out for a brief file; clear one-line errors."""

from __future__ import annotations

import json

import core.generation.__main__ as cli


class FakeModel:
    name = label = "fake-lm"
    languages = ("en",)
    kind = "base"

    def completion(self, text):
        return text

    def render(self, messages):
        return "\n".join(m["content"] for m in messages)

    def sample(self, prompt_text, n, **kw):
        lines = ["Lace up and go", "Made up: 35% off", "Miles feel lighter"]
        return [(lines[i % 3], True) for i in range(n)]


def test_cli_writes_variants_with_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_language_model", lambda cfg, precision, progress, model=None: FakeModel())
    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps({"product": "Trail Running Shoes", "channel": "sms", "offer_type": "percent",
                                 "offer_value": 20, "promo_code": "RUN20", "brand_voice": "Default"}))
    code = cli.main(["--brief", str(brief), "--db", str(tmp_path / "x.duckdb"), "--n", "2", "--seed", "9"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [v["text"] for v in out["variants"]] == [
        "Lace up and go! 20% off Trail Running Shoes with code RUN20. Shop now. Reply STOP to opt out",
        "20% off Trail Running Shoes with code RUN20. Miles feel lighter. Take a look. Reply STOP to opt out"]
    assert out["settings"]["seed"] == 9 and out["failure_counts"]["hook"] >= 1
    assert out["variants"][0]["guardrails"]["passed"] and out["segment"] == "All customers"
    assert out["prompt"].count("Trail Running Shoes") >= 1


def test_cli_reports_bad_brief_with_line(tmp_path, capsys):
    brief = tmp_path / "brief.json"
    brief.write_text('{\n "product": "x",\n "channel": sms\n}')
    assert cli.main(["--brief", str(brief), "--db", str(tmp_path / "x.duckdb")]) == 2
    assert "line 3" in capsys.readouterr().err
    brief.write_text(json.dumps({"product": "x", "channel": "fax"}))
    assert cli.main(["--brief", str(brief), "--db", str(tmp_path / "x.duckdb")]) == 2
    assert "channel" in capsys.readouterr().err
