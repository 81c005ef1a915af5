"""What staff read to the patron on the phone, per bounce category (Q15)."""

from __future__ import annotations

from shared.contracts.bounce import BounceCategory
from shared.contracts.staff import Guidance

_TEXTS: dict[BounceCategory, tuple[str, str]] = {
    "bad_address": (
        "メールアドレスの誤り・使われていないアドレス",
        "ご登録のメールアドレスにメールが届きませんでした。アドレスが使われていないか、"
        "入力の誤り（「.」と「,」の打ち間違い、全角文字の混入など）の可能性があります。"
        "現在お使いのアドレスを確認し、予約関連メール配信先を登録し直してください。",
    ),
    "domain_rejection": (
        "受信設定（ドメイン指定受信）による拒否",
        "携帯電話会社の迷惑メール設定で、パソコンから送られたメールが受信拒否されています。"
        "携帯電話の受信設定（ドメイン指定受信）で「@plib.pref.aomori.lg.jp」からのメールを"
        "受信できるよう設定してください。設定方法は各携帯電話会社の案内をご確認ください。",
    ),
    "mailbox_full": (
        "メールボックスの容量不足",
        "メールボックスがいっぱいのため、メールを受け取れない状態が続いています。"
        "不要なメールを削除するなどして、メールボックスの空き容量を確保してください。",
    ),
    "forwarding_failure": (
        "メール転送の失敗",
        "ご登録のアドレスから別のアドレスへの転送設定があり、転送先で配信できませんでした。"
        "転送元と転送先の両方の設定（転送先アドレス、受信設定、容量）をご確認ください。"
        "転送先のアドレスを直接ご登録いただくこともできます。",
    ),
    "transient": (
        "一時的な配信の不具合",
        "相手先のメールサーバーの一時的な不具合でメールが届かない状態が繰り返されています。"
        "メールの受信に問題がないか、ご契約のメールサービスの状況をご確認ください。",
    ),
    "sender_side": (
        "図書館側の問題（利用者への連絡は不要）",
        "図書館側の送信設定やメール内容が原因のエラーです。利用者への連絡は不要です。"
        "システム担当に連絡してください。",
    ),
    "not_a_bounce": (
        "エラーではない返信",
        "自動応答や配信通知など、エラーではないメールです。利用者への連絡は不要です。",
    ),
    "unknown": (
        "原因不明の配信エラー",
        "メールが届かない状態が繰り返されていますが、原因を特定できませんでした。"
        "ご登録のメールアドレスが現在も使えるか、受信設定（ドメイン指定受信で"
        "「@plib.pref.aomori.lg.jp」を許可）と空き容量を確認していただくようお伝えください。",
    ),
}


def guidance_for(category: BounceCategory) -> Guidance:
    """The Japanese phone guidance for ``category``."""
    title, script = _TEXTS[category]
    return Guidance(category=category, title=title, script=script)


def all_guidance() -> tuple[Guidance, ...]:
    return tuple(guidance_for(c) for c in _TEXTS)
