"""Non-English diagnostic phrases (Japanese, Chinese, Korean, Russian) per reason.

Japanese ISPs, hosting services and mail gateways (OCN, BIGLOBE, @nifty, So-net, Yahoo!
JAPAN, Xserver, m-FILTER, InterScan, Exchange and Gmail in Japanese) often state the cause
only in the notice's human-readable part, in Japanese; QQ / 163, Naver / Daum and mail.ru
do the same in Chinese, Korean and Russian. Each tuple below is merged into the rule of the
same reason (``rules.py`` / ``secondary.py``), so the ordinary rule order and SMTP-phase
checks apply. Patterns are lower-case regex fragments (Russian is lower-cased text too).
The why of each group is in docs/bounce-rules.md ("Non-English phrases").
"""

from __future__ import annotations

_JA_WHO = r"(?:メール ?)?(?:アドレス|ユーザー?|アカウント|受信者|宛先|メールボックス|利用者)"

USER_UNKNOWN: tuple[str, ...] = (
    # the address itself does not exist: as unambiguous as "no such user"
    r"宛先不明|不明なユーザー?|ユーザー?不明|存在しない(?:メール ?)?アドレス",
    _JA_WHO + r"(?:は|が)?(?:存在しません|存在しない|見つかりません|見つからな|登録されていません)",
    r"アドレス[^。\n]{0,80}?が見つから(?:ない|なかった|ません)|メールを受信できないアドレス",
    r"(?:用户|收件人|邮箱|地址|帐号|账号|帳號|用戶)(?:名)?不存在|无此用户|查无此人",
    r"(?:주소|사용자|계정|아이디|수신자)(?:가|이|는)? ?존재하지 않",
    r"존재하지 않는 (?:주소|사용자|계정)",
    r"(?:пользовател[ья]|адрес|ящик|получател[ья])[^.\n]{0,30}не (?:существует|найден)",
    r"нет такого (?:пользователя|адреса|ящика)",
)

HOST_UNKNOWN: tuple[str, ...] = (
    r"ドメイン[^。\n]{0,80}?(?:は|が)(?:存在しません|存在しない|見つかりません|見つからな)",
    r"存在しないドメイン|ホストが見つかりません|域名不存在",
    r"도메인(?:이|을)? ?(?:존재하지 않|찾을 수 없)",
    r"домен[^.\n]{0,30}не (?:существует|найден)",
)

MAILBOX_FULL: tuple[str, ...] = (
    r"(?:メール ?ボックス|受信箱|受信ボックス|受信トレイ)(?:の容量)?(?:が|は)"
    r"(?:いっぱい|一杯|満杯|満タン)",
    r"容量(?:が|を)?(?:超|オーバー|不足|一杯|いっぱい)|(?:保存|受信|空き)容量",
    r"邮箱(?:空间|容量)?(?:已满|满了|不足)|(?:空间|容量)(?:已满|不足)|超出(?:邮箱)?(?:容量|空间)",
    r"메일함(?:이|의)? ?(?:가득|꽉|용량)|용량(?:이|을)? ?(?:초과|부족)",
    r"ящик[^.\n]{0,20}переполнен|превышен[^.\n]{0,20}(?:квот|размер ящика)",
)

FILTERED: tuple[str, ...] = (
    r"受信(?:を|が|は)?拒否|拒否(?:され|しま)|受信許可|受信者の設定により|指定受信",
    r"拒收|拒绝接收|拒絕接收|수신 ?거부|수신을 거부|отклонено получателем",
)

SPAM: tuple[str, ...] = (r"迷惑メール|スパム|垃圾邮件|垃圾郵件|스팸|спам",)

AUTH_FAILURE: tuple[str, ...] = (r"送信ドメイン認証|なりすまし",)

SUSPEND: tuple[str, ...] = (
    r"利用停止|(?:アカウント|アドレス)(?:は|が)?(?:停止|休止|無効)|休止中|解約",
    r"(?:已|被)(?:冻结|停用)|휴면 ?(?:계정|상태)|정지된 계정",
)

MESG_TOO_BIG: tuple[str, ...] = (
    r"サイズが大きすぎ|サイズ(?:が|の)?(?:制限|上限)を超え|サイズ超過",
    r"邮件(?:过大|太大)|크기(?:가)? ?(?:너무 )?크|크기 제한",
)

EXPIRED: tuple[str, ...] = (
    r"一定時間内に(?:配送|配信|送信)|配送期限|(?:配送|配信)を(?:中止|断念)|応答しません",
)

SYSTEM_ERROR: tuple[str, ...] = (
    r"一時的な(?:エラー|障害|問題)|一時的に|しばらく(?:して|時間を)|時間をおいて",
    r"临时(?:错误|故障)|暂时|일시적인 (?:오류|장애)|временн",
)
