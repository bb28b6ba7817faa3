"""Every reason intake refuses a request for: a stable code, its HTTP status and the message in
English, Russian and Kazakh (templates filled from keyword arguments). docs/intake.md lists the
same table; a test keeps the two in step."""

from __future__ import annotations

from dataclasses import dataclass

from uise_common.http import ApiError


@dataclass(frozen=True)
class Reason:
    status: int
    en: str
    ru: str
    kk: str


REASONS: dict[str, Reason] = {
    # --- who is asking -------------------------------------------------------------------
    # (a missing, invalid or expired token is answered by uise_common.auth: UNAUTHENTICATED,
    # TOKEN_INVALID, TOKEN_EXPIRED, SESSION_REVOKED, SCOPE_MISSING)
    "NOT_A_PARTICIPANT": Reason(
        403, "a {role} credential acts for no organization: sign in as the organization that delivers",
        "учётная запись {role} не действует от имени организации: войдите как сдающая организация",
        "{role} тіркелгісі ұйым атынан әрекет етпейді: тапсыратын ұйым ретінде кіріңіз"),
    "UNKNOWN_PARTICIPANT": Reason(
        403, "participant {participant_id} is not registered",
        "участник {participant_id} не зарегистрирован", "{participant_id} қатысушысы тіркелмеген"),
    "NOT_RECIPIENT": Reason(
        403, "only the recipient of {participant_id} (its parent) may register its paper submissions",
        "регистрировать бумажные отчёты {participant_id} может только его получатель (вышестоящий)",
        "{participant_id} қағаз есептерін тек оның алушысы (жоғары тұрған) тіркей алады"),
    # --- reading what was sent -------------------------------------------------------------
    "REQUEST_TOO_LARGE": Reason(
        413, "the request is larger than {limit} bytes", "запрос больше {limit} байт",
        "сұрау {limit} байттан үлкен"),
    "REQUEST_MALFORMED": Reason(
        400, "the multipart body cannot be read", "тело запроса (multipart) не читается",
        "сұрау денесі (multipart) оқылмайды"),
    "DOCUMENT_TOO_LARGE": Reason(
        413, "the document is larger than {limit} bytes", "документ больше {limit} байт",
        "құжат {limit} байттан үлкен"),
    "SIGNATURE_TOO_LARGE": Reason(
        413, "the signature is larger than {limit} bytes", "подпись больше {limit} байт",
        "қолтаңба {limit} байттан үлкен"),
    "SCAN_TOO_LARGE": Reason(
        413, "the scan is larger than {limit} bytes", "скан больше {limit} байт",
        "скан {limit} байттан үлкен"),
    "EMPTY_UPLOAD": Reason(
        422, "the {what} is empty", "файл ({what}) пуст", "файл ({what}) бос"),
    "EXPLANATIONS_INVALID": Reason(
        422, "explanations must be a JSON object of rule code → text (at most 200, each up to 2000 characters)",
        "пояснения должны быть JSON-объектом «код правила → текст» (не более 200, до 2000 символов каждое)",
        "түсініктемелер JSON-объект болуы тиіс: «ереже коды → мәтін» (200-ден аспай, әрқайсысы 2000 таңбаға дейін)"),
    "IDEMPOTENCY_KEY_INVALID": Reason(
        422, "Idempotency-Key must be 1 to 255 visible ASCII characters",
        "Idempotency-Key должен состоять из 1–255 видимых символов ASCII",
        "Idempotency-Key 1–255 көрінетін ASCII таңбадан тұруы тиіс"),
    "IDEMPOTENCY_KEY_REUSED": Reason(
        422, "this Idempotency-Key was used for a different request (submission {submission_id})",
        "этот Idempotency-Key уже использован для другого запроса (отправка {submission_id})",
        "бұл Idempotency-Key басқа сұрау үшін қолданылған ({submission_id} жіберілімі)"),
    # --- what the document is --------------------------------------------------------------
    "DOCUMENT_TYPE_UNSUPPORTED": Reason(
        415, "the document is {detected}, not XLSX, CSV or JSON",
        "документ является {detected}, а не XLSX, CSV или JSON",
        "құжат XLSX, CSV немесе JSON емес, ол {detected}"),
    "DOCUMENT_TYPE_MISMATCH": Reason(
        415, "the document is named {filename} but its content is {detected}",
        "документ назван {filename}, но его содержимое — {detected}",
        "құжат {filename} деп аталған, бірақ мазмұны {detected}"),
    "DOCUMENT_NOT_UTF8": Reason(
        422, "the document is not UTF-8 text; save it as UTF-8",
        "документ не в кодировке UTF-8; сохраните его в UTF-8",
        "құжат UTF-8 кодтауында емес; оны UTF-8 түрінде сақтаңыз"),
    "DOCUMENT_JSON_INVALID": Reason(
        422, "the JSON document cannot be read: {why}", "JSON-документ не читается: {why}",
        "JSON құжаты оқылмайды: {why}"),
    "XLSX_NOT_A_ZIP": Reason(
        422, "the XLSX is damaged: {why}", "XLSX повреждён: {why}", "XLSX бүлінген: {why}"),
    "XLSX_RATIO": Reason(
        422, "the XLSX inflates far beyond its size (a zip bomb): {why}",
        "XLSX распаковывается в непомерный объём (zip-бомба): {why}",
        "XLSX шамадан тыс көлемге ашылады (zip-бомба): {why}"),
    "XLSX_TOO_LARGE": Reason(
        422, "the XLSX is too large once unpacked: {why}", "XLSX слишком велик после распаковки: {why}",
        "XLSX ашылғаннан кейін тым үлкен: {why}"),
    "XLSX_XML_ENTITIES": Reason(
        422, "the XLSX declares an XML DOCTYPE or ENTITY, which a workbook never needs: {why}",
        "XLSX объявляет XML DOCTYPE или ENTITY, которые в книге Excel не нужны: {why}",
        "XLSX ішінде XML DOCTYPE немесе ENTITY бар, кітапқа олар қажет емес: {why}"),
    "SIGNATURE_NOT_CMS": Reason(
        422, "the signature is not a CMS (PKCS#7) SignedData in DER: {why}",
        "подпись не является CMS (PKCS#7) SignedData в DER: {why}",
        "қолтаңба DER пішіміндегі CMS (PKCS#7) SignedData емес: {why}"),
    "SCAN_NOT_PDF": Reason(
        422, "the scan must be a PDF (it is {detected})", "скан должен быть PDF (получен {detected})",
        "скан PDF болуы тиіс (алынғаны {detected})"),
    # --- what it is for --------------------------------------------------------------------
    "PERIOD_INVALID": Reason(
        422, "{period} is not a period: use 2026, 2026-H1, 2026-Q3, 2026-10 or 2026-10-15",
        "{period} не является периодом: 2026, 2026-H1, 2026-Q3, 2026-10 или 2026-10-15",
        "{period} кезең емес: 2026, 2026-H1, 2026-Q3, 2026-10 немесе 2026-10-15"),
    "PERIOD_NOT_OPEN": Reason(
        422, "period {period} is not open yet: it is collected from {opens} to {closes}",
        "период {period} ещё не открыт: он принимается с {opens} по {closes}",
        "{period} кезеңі әлі ашылмаған: ол {opens} бастап {closes} дейін қабылданады"),
    "PERIOD_CLOSED": Reason(
        422, "period {period} is closed: it was collected from {opens} to {closes}",
        "период {period} закрыт: он принимался с {opens} по {closes}",
        "{period} кезеңі жабылды: ол {opens} бастап {closes} дейін қабылданды"),
    "PERIOD_MISMATCH": Reason(
        422, "form {form_code} is {period_type}; {period} is not such a period",
        "форма {form_code} имеет периодичность {period_type}; {period} ей не соответствует",
        "{form_code} нысанының кезеңділігі {period_type}; {period} оған сәйкес емес"),
    "UNKNOWN_FORM": Reason(
        422, "form {form_code} is not on the approved list for {period}",
        "формы {form_code} нет в утверждённом перечне на {period}",
        "{form_code} нысаны {period} бекітілген тізбеде жоқ"),
    "NOT_IMMEDIATE_SUPERIOR": Reason(
        422, "submit to your immediate superior {parent_id}, not to {addressed_to} (clause 9: step by step)",
        "сдавайте вышестоящему {parent_id}, а не {addressed_to} (пункт 9: поэтапно)",
        "тікелей жоғары тұрған {parent_id} ұйымына тапсырыңыз, {addressed_to} емес (9-тармақ: кезең-кезеңімен)"),
    "NO_RECIPIENT": Reason(
        422, "{participant_id} has no superior to submit to", "у {participant_id} нет вышестоящего получателя",
        "{participant_id} тапсыратын жоғары тұрған ұйым жоқ"),
    "FORM_NOT_APPLICABLE": Reason(
        422, "form {form_code} does not apply to a {kind}", "форма {form_code} не применяется к виду {kind}",
        "{form_code} нысаны {kind} түріне қолданылмайды"),
    "DELIVERED_ON_IN_FUTURE": Reason(
        422, "the delivery date {delivered_on} is in the future", "дата доставки {delivered_on} ещё не наступила",
        "жеткізу күні {delivered_on} әлі келмеген"),
    "PAPER_DELIVERY_TOO_OLD": Reason(
        422, "a paper submission delivered on {delivered_on} can no longer be registered (limit {days} days)",
        "бумажный отчёт, доставленный {delivered_on}, уже нельзя зарегистрировать (срок {days} дн.)",
        "{delivered_on} жеткізілген қағаз есепті енді тіркеуге болмайды (мерзімі {days} күн)"),
    # --- reading back -----------------------------------------------------------------------
    "PAPER_AFTER_ELECTRONIC": Reason(
        409, "a signed electronic submission ({submission_id}) stands for this form and period: only the "
             "participant's own correction replaces it, not a paper registration",
        "по этой форме и периоду есть электронный отчёт с ЭЦП ({submission_id}): заменить его может только "
        "исправление самого участника, а не регистрация бумажного",
        "осы нысан мен кезең бойынша ЭЦҚ қойылған электрондық есеп бар ({submission_id}): оны тек қатысушының "
        "өз түзетуі ауыстырады, қағаз есепті тіркеу емес"),
    "NOT_QUERIED": Reason(
        409, "submission {submission_id} has no open queries (it is {state})",
        "у отправки {submission_id} нет открытых вопросов (она в состоянии {state})",
        "{submission_id} жіберілімінде ашық сұрақтар жоқ (күйі: {state})"),
    "EXPLANATION_UNKNOWN_RULE": Reason(
        422, "no open query of this submission has the rule code(s) {rules}",
        "среди открытых вопросов этой отправки нет правил {rules}",
        "бұл жіберілімнің ашық сұрақтары арасында {rules} ережелері жоқ"),
    "SUBMISSION_UNKNOWN": Reason(
        404, "no submission {submission_id}", "нет отправки {submission_id}", "{submission_id} жіберілімі жоқ"),
    "RECEIPT_UNKNOWN": Reason(
        404, "submission {submission_id} was recorded before intake kept receipts: its receipt was the answer to its upload",
        "отправка {submission_id} записана до того, как приём стал хранить квитанции: квитанция была ответом на её загрузку",
        "{submission_id} жіберілімі қабылдау түбіртектерді сақтамай тұрғанда жазылған: түбіртек оны жүктегендегі жауап болды"),
    # --- capacity and dependencies ----------------------------------------------------------
    "OVERLOADED": Reason(
        429, "intake is at capacity; retry after {seconds} s", "приём перегружен; повторите через {seconds} с",
        "қабылдау толып тұр; {seconds} с кейін қайталаңыз"),
    # --- abuse limits (issue 7) -------------------------------------------------------------
    "PARTICIPANT_BUSY": Reason(
        429, "you already have {limit} uploads in progress; retry after {seconds} s, once one has finished",
        "у вас уже идут {limit} загрузки; повторите через {seconds} с, когда одна из них завершится",
        "сізде {limit} жүктеу жүріп жатыр; біреуі аяқталған соң, {seconds} с кейін қайталаңыз"),
    "RATE_LIMITED": Reason(
        429, "too many uploads: at most {per_minute} a minute per participant; retry after {seconds} s",
        "слишком много загрузок: не более {per_minute} в минуту от одного участника; повторите через {seconds} с",
        "жүктеулер тым көп: бір қатысушыдан минутына {per_minute} жүктеуден аспауы тиіс; {seconds} с кейін қайталаңыз"),
    "REQUEST_TIMEOUT": Reason(
        408, "no data arrived for {seconds} s, so the upload was stopped; send it again",
        "данные не поступали {seconds} с, поэтому загрузка прервана; отправьте её заново",
        "{seconds} с бойы деректер келмеді, сондықтан жүктеу тоқтатылды; қайта жіберіңіз"),
    "UPLOAD_TOO_SLOW": Reason(
        408, "the upload arrived slower than {rate} bytes/s on average, so it was stopped; send it again, "
             "on a faster connection if you can",
        "загрузка шла в среднем медленнее {rate} байт/с, поэтому прервана; отправьте её заново, "
        "по возможности через более быстрое соединение",
        "жүктеу орта есеппен {rate} байт/с-тан баяу жүрді, сондықтан тоқтатылды; қайта жіберіңіз, "
        "мүмкін болса жылдамырақ байланыс арқылы"),
    "KAFKA_UNAVAILABLE": Reason(
        503, "the event bus is unavailable; nothing was stored, retry later",
        "шина событий недоступна; ничего не сохранено, повторите позже",
        "оқиғалар шинасы қолжетімсіз; ештеңе сақталмады, кейінірек қайталаңыз"),
    "STORAGE_UNAVAILABLE": Reason(
        503, "object storage is unavailable; nothing was stored, retry later",
        "хранилище недоступно; ничего не сохранено, повторите позже",
        "қойма қолжетімсіз; ештеңе сақталмады, кейінірек қайталаңыз"),
    "DATABASE_UNAVAILABLE": Reason(
        503, "the database is unavailable; nothing was stored, retry later",
        "база данных недоступна; ничего не сохранено, повторите позже",
        "дерекқор қолжетімсіз; ештеңе сақталмады, кейінірек қайталаңыз"),
}

@dataclass(frozen=True)
class Outcome:
    """A reason intake itself gives a submission after its `202` (its status and timeline), in
    English, Russian and Kazakh; templates filled from keyword arguments."""

    en: str
    ru: str
    kk: str

    def messages(self, **params: object) -> dict[str, str]:
        text = _Missing({k: str(v) for k, v in params.items()})
        return {"kk": self.kk.format_map(text), "ru": self.ru.format_map(text), "en": self.en.format_map(text)}


OUTCOMES: dict[str, Outcome] = {
    # A service dead-lettered an event the submission waited on (uise_common.failures): rejected
    # so that it does not wait forever; the event is in the DLQ for operations.
    "PROCESSING_FAILED": Outcome(
        "UISE could not process the submission at the {stage} stage, so it is rejected rather than left "
        "waiting; submit it again",
        "ЕИСО не смогла обработать отправку на этапе «{stage}», поэтому она отклонена, а не оставлена "
        "в ожидании; сдайте её ещё раз",
        "БЕАЖ жіберілімді «{stage}» кезеңінде өңдей алмады, сондықтан ол күтуде қалмай, қабылданбады; "
        "оны қайта тапсырыңыз"),
}

# Raised by the common HTTP layer, not here; listed so the documentation covers them too.
COMMON_REASONS = {"REQUEST_INVALID": 422}


class Refused(Exception):
    """A pure check's verdict: `code` from REASONS, `params` fill its message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def refuse(code: str, headers: dict[str, str] | None = None, **params: object) -> ApiError:
    """The ApiError for `code`; params fill the messages and are returned as detail too."""
    r = REASONS[code]
    text = {k: str(v) for k, v in params.items()}
    return ApiError(r.status, code, r.en.format_map(_Missing(text)), r.ru.format_map(_Missing(text)),
                    r.kk.format_map(_Missing(text)), headers=headers,
                    **{k: v for k, v in params.items() if _jsonable(v)})


def from_refused(exc: Refused, headers: dict[str, str] | None = None) -> ApiError:
    return refuse(exc.code, headers=headers, **exc.params)


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _jsonable(v: object) -> bool:
    return isinstance(v, str | int | float | bool) or v is None
