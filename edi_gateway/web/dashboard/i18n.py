"""Interface text in English and Korean. The language follows the browser's Accept-Language
unless the operator picked one with the switch (a cookie)."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("en", "ko")
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}
COOKIE = "edigw_lang"

# English text is the key's own text unless given here; Korean for every key.
_KO: dict[str, str] = {
    "EDI Gateway": "EDI 게이트웨이",
    "Operators' dashboard": "운영자 대시보드",
    "Overview": "개요",
    "Messages": "메시지",
    "Partners": "거래처",
    "Queues": "대기열",
    "Audit trail": "감사 기록",
    "Operators": "운영자",
    "Sign in": "로그인",
    "Sign out": "로그아웃",
    "Username": "사용자 이름",
    "Password": "비밀번호",
    "Signed in as": "로그인 사용자",
    "The username or password is wrong.": "사용자 이름 또는 비밀번호가 올바르지 않습니다.",
    "Too many failed attempts; try again in {seconds} seconds.": (
        "로그인 실패가 너무 많습니다. {seconds}초 후에 다시 시도하십시오."
    ),
    "The form expired; please try again.": "양식이 만료되었습니다. 다시 시도하십시오.",
    "Last hour": "최근 1시간",
    "Last 24 hours": "최근 24시간",
    "Throughput (interchanges per hour)": "처리량 (시간당 교환 건수)",
    "Receive-to-queued latency (seconds, median and 95th percentile)": (
        "수신부터 대기열 등록까지 지연 (초, 중앙값과 95 백분위수)"
    ),
    "Errors by partner (24 h)": "거래처별 오류 (24시간)",
    "Overdue acknowledgements": "지연된 응답 확인",
    "Queue depths": "대기열 깊이",
    "Dead letters": "배달 불능 메시지",
    "Certificate expiries": "인증서 만료",
    "No data yet": "아직 데이터가 없습니다",
    "Nothing overdue": "지연된 항목이 없습니다",
    "Refreshes every {seconds} s": "{seconds}초마다 새로 고침",
    "Time": "시각",
    "From": "시작",
    "To": "종료",
    "Partner": "거래처",
    "Channel": "채널",
    "Direction": "방향",
    "Kind": "문서 종류",
    "Standard": "표준",
    "State": "상태",
    "Search": "검색",
    "Business number, control reference or Message-ID": "업무 번호, 제어 참조 번호 또는 Message-ID",
    "Filter": "필터",
    "Clear": "초기화",
    "Any": "전체",
    "Received": "수신 시각",
    "Documents": "문서",
    "Findings": "검증 결과",
    "Older": "이전 항목",
    "Newest": "최신 항목",
    "No messages match.": "조건에 맞는 메시지가 없습니다.",
    "Reprocess selected": "선택 항목 재처리",
    "Reprocess": "재처리",
    "Resend": "재전송",
    "Download raw": "원본 다운로드",
    "Timeline": "처리 이력",
    "Transport": "전송 정보",
    "Raw payload": "원본 데이터",
    "Canonical document": "표준 문서",
    "Acknowledgements": "응답 확인",
    "Actions": "작업",
    "Size": "크기",
    "File name": "파일 이름",
    "Control reference": "제어 참조 번호",
    "Format": "형식",
    "Attempts": "시도 횟수",
    "Finished": "완료 시각",
    "Actor": "수행자",
    "Event": "이벤트",
    "Detail": "상세",
    "Code": "코드",
    "Severity": "심각도",
    "Location": "위치",
    "Text": "설명",
    "Route": "경로",
    "Queued for reprocessing.": "재처리 대기열에 등록했습니다.",
    "{count} message(s) queued for reprocessing.": "{count}건을 재처리 대기열에 등록했습니다.",
    "Acknowledgement queued for resending.": "응답 확인을 재전송 대기열에 등록했습니다.",
    "{count} dead letter(s) requeued.": "배달 불능 메시지 {count}건을 다시 대기열에 넣었습니다.",
    "Your role does not allow this.": "권한이 없습니다.",
    "Not found.": "찾을 수 없습니다.",
    "Name": "이름",
    "Role": "역할",
    "Identifiers": "식별자",
    "Last seen": "최근 수신",
    "Volume (24 h)": "건수 (24시간)",
    "Error rate": "오류율",
    "Certificate expiry": "인증서 만료일",
    "Enabled": "사용",
    "Disabled": "사용 안 함",
    "Queue": "대기열",
    "Visible": "대기",
    "In flight": "처리 중",
    "Oldest": "가장 오래된 항목",
    "Done": "완료",
    "Requeue dead letters": "배달 불능 메시지 재등록",
    "Requeue selected": "선택 항목 재등록",
    "Action": "작업",
    "Target": "대상",
    "Outcome": "결과",
    "Address": "주소",
    "Add operator": "운영자 추가",
    "Disable": "사용 중지",
    "Enable": "사용",
    "Set password": "비밀번호 설정",
    "Change role": "역할 변경",
    "Display name": "표시 이름",
    "Last sign-in": "최근 로그인",
    "Language": "언어",
    "none": "없음",
    "yes": "예",
    "no": "아니요",
    "Payload shown up to {limit}; download the raw bytes for the rest.": (
        "{limit}까지만 표시합니다. 나머지는 원본을 다운로드하십시오."
    ),
    "The raw payload is missing from the spool.": "스풀에 원본 데이터가 없습니다.",
    "Sealed tender: its content is unreadable until the opening.": "봉인된 입찰서: 개찰 전에는 내용을 열람할 수 없습니다.",
    "not configured": "설정 안 됨",
    "expired": "만료됨",
    "days left": "일 남음",
    "Total": "합계",
    "Failed": "실패",
    "Pending": "대기 중",
    "age": "경과",
    "Messages in the dead state": "dead 상태의 메시지",
    "Queue items in dead letters": "배달 불능 대기열 항목",
    "received": "수신됨",
    "processing": "처리 중",
    "done": "완료",
    "rejected": "거부됨",
    "duplicate": "중복",
    "dead": "중단됨",
    "sealed": "봉인됨",
    "in": "수신",
    "out": "송신",
    "order": "주문서",
    "invoice": "송장",
    "tender": "입찰서",
    "median": "중앙값",
    "p95": "95 백분위수",
    "Older entries": "이전 기록",
    "No entries.": "기록이 없습니다.",
    "This page needs the admin role.": "이 페이지는 관리자 권한이 필요합니다.",
    "Operator saved.": "운영자 정보를 저장했습니다.",
    "messages": "건",
    "min": "분",
    "Received (UTC)": "수신 시각 (UTC)",
    # partner administration and AS2 evidence
    "institution": "기관",
    "supplier": "공급업체",
    "Add partner": "거래처 추가",
    "Edit": "편집",
    "Token": "토큰",
    "New token": "새 토큰",
    "Back office": "백오피스",
    "Partner {id} saved; the gateway uses the new settings.": (
        "거래처 {id}을(를) 저장했습니다. 게이트웨이가 새 설정을 사용합니다."
    ),
    "Changes are written to the partner files and taken up by every channel, routing and "
    "acknowledgements within a second.": (
        "변경 내용은 거래처 파일에 기록되며 모든 채널, 라우팅, 응답 확인에 1초 안에 반영됩니다."
    ),
    "Saved to the partner file; every channel, routing and acknowledgements use it within a "
    "second.": (
        "거래처 파일에 저장되며 모든 채널, 라우팅, 응답 확인에 1초 안에 반영됩니다."
    ),
    "The partner file was not saved:": "거래처 파일을 저장하지 않았습니다:",
    "Our AS2 certificates": "우리 AS2 인증서",
    "File": "파일",
    "Expires": "만료",
    "{days} days": "{days}일",
    "unreadable": "읽을 수 없음",
    "AS2 is not configured.": "AS2가 설정되어 있지 않습니다.",
    "Partner id": "거래처 ID",
    "Identifiers (one per line, scheme:value)": "식별자 (한 줄에 하나, 체계:값)",
    "EDIFACT interchange ids (one per line, id/qualifier)": (
        "EDIFACT 교환 ID (한 줄에 하나, ID/한정자)"
    ),
    "May send": "보낼 수 있는 문서",
    "Channels": "채널",
    "AS2 id": "AS2 ID",
    "Return URL": "회신 URL",
    "Certificate": "인증서",
    "Next certificate": "다음 인증서",
    "Require signed messages": "서명된 메시지만 받기",
    "Require encrypted messages": "암호화된 메시지만 받기",
    "Sign what we send": "보내는 메시지 서명",
    "Encrypt what we send": "보내는 메시지 암호화",
    "Public keys (OpenSSH, one per line)": "공개 키 (OpenSSH, 한 줄에 하나)",
    "A password is set (not shown).": "비밀번호가 설정되어 있습니다 (표시하지 않음).",
    "Email": "이메일",
    "Allowed senders (one per line)": "허용된 발신자 (한 줄에 하나)",
    "Reply to": "회신 주소",
    "SMTP user": "SMTP 사용자",
    "Drop folder": "드롭 폴더",
    "Return route": "회신 경로",
    "Webhook URL": "웹훅 URL",
    "Always": "항상",
    "On error": "오류 시",
    "Never": "보내지 않음",
    "Queues it may pull (glob patterns, one per line)": (
        "가져갈 수 있는 대기열 (글롭 패턴, 한 줄에 하나)"
    ),
    "Tokens are issued on the partners page and shown once.": (
        "토큰은 거래처 페이지에서 발급하며 한 번만 표시됩니다."
    ),
    "Save partner": "거래처 저장",
    "Cancel": "취소",
    "New API token": "새 API 토큰",
    "New back-office token": "새 백오피스 토큰",
    "Copy this secret now: it is shown only once. The gateway keeps only its hash.": (
        "지금 이 비밀 값을 복사하십시오. 한 번만 표시됩니다. 게이트웨이는 해시만 보관합니다."
    ),
    "API token": "API 토큰",
    "Back-office token": "백오피스 토큰",
    "SFTP password": "SFTP 비밀번호",
    "SMTP password": "SMTP 비밀번호",
    "New secret": "새 비밀 값",
    "New SFTP password": "새 SFTP 비밀번호",
    "New SMTP password": "새 SMTP 비밀번호",
    "Back to partners": "거래처 목록으로",
    "AS2 receipts (MDN)": "AS2 수신 확인 (MDN)",
    "Disposition": "처리 결과",
    "Signature": "서명",
    "Original Message-ID": "원본 Message-ID",
    "Delivery": "전달",
    "Sent by us": "우리가 보냄",
    "From the partner": "거래처가 보냄",
    "signed": "서명됨",
    "unsigned": "서명 없음",
    "verified": "검증됨",
    "not verified": "검증 실패",
    "sent": "보냄",
    "pending": "대기 중",
    "delivered": "전달됨",
    "failed": "실패",
    "awaited": "기다리는 중",
    "Download MDN": "MDN 다운로드",
    # tender opening
    "Tender opening": "개찰",
    "Procedure": "공고 번호",
    "Title": "제목",
    "Institution": "기관",
    "Deadline (UTC)": "제출 마감 (UTC)",
    "Opening time (UTC)": "개찰 시각 (UTC)",
    "Quorum": "정족수",
    "open for tenders": "입찰 접수 중",
    "No calls for tenders yet.": "아직 입찰 공고가 없습니다.",
    "open": "접수 중",
    "opening": "개찰 진행 중",
    "opened": "개찰 완료",
    "Call for tenders": "입찰 공고",
    "Opening officers": "개찰 담당관",
    "{k} of {n} needed": "{n}명 중 {k}명 필요",
    "Key id": "키 ID",
    "Shares": "지분",
    "sealed to each officer's certificate": "담당관별 인증서로 봉인됨",
    "handed out in clear at registration": "등록 시 평문으로 전달됨",
    "Opening record": "개찰 기록",
    "Opened {at} by {who}.": "{at}에 {who}이(가) 개찰했습니다.",
    "Tenderer": "입찰자",
    "Price": "가격",
    "SHA-256": "SHA-256",
    "Receipt": "접수증",
    "No tender counted.": "유효한 입찰서가 없습니다.",
    "Not opened": "개봉하지 않음",
    "Reason": "사유",
    "Signed by the gateway": "게이트웨이 서명",
    "key": "키",
    "Sealed tenders": "봉인된 입찰서",
    "Metadata only: the content stays sealed until the opening.": (
        "메타데이터만 표시합니다. 내용은 개찰 때까지 봉인됩니다."
    ),
    "Standing": "상태",
    "filed": "접수됨",
    "counted": "유효",
    "replaced": "대체됨",
    "withdrawn": "철회됨",
    "late": "마감 후 접수",
    "No tenders filed yet.": "아직 접수된 입찰서가 없습니다.",
    "Open the tenders": "개찰하기",
    "The opening time has not come yet.": "아직 개찰 시각이 되지 않았습니다.",
    "{k} opening officers each enter their own share. The shares are used for this opening "
    "only and never stored.": (
        "개찰 담당관 {k}명이 각자 자기 지분을 입력합니다. 지분은 이번 개찰에만 쓰이며 "
        "저장되지 않습니다."
    ),
    "Share {n}": "지분 {n}",
    "All calls for tenders": "모든 입찰 공고",
    "Enter the shares of {k} officers.": "담당관 {k}명의 지분을 입력하십시오.",
    "These shares do not open this call.": "이 지분으로는 이 공고를 개찰할 수 없습니다.",
    "The opening failed; see the gateway log.": (
        "개찰에 실패했습니다. 게이트웨이 로그를 확인하십시오."
    ),
    "No call for tenders has this procedure id.": "이 공고 번호의 입찰 공고가 없습니다.",
}

CATALOGUES: dict[str, dict[str, str]] = {"en": {}, "ko": _KO}


def negotiate(accept_language: str | None, chosen: str | None) -> str:
    """The operator's explicit choice, else the first supported language in Accept-Language
    by quality, else English."""
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower().split("-")[0]))
    for neg_q, _, lang in sorted(ranked):
        if neg_q < 0 and lang in LANGUAGES:
            return lang
    return "en"


def translator(lang: str) -> Callable[..., str]:
    catalogue = CATALOGUES.get(lang, {})

    def gettext(text: str, **values: object) -> str:
        out = catalogue.get(text, text)
        return out.format(**values) if values else out

    return gettext
