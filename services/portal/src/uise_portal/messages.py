"""Every text the portal shows, in Kazakh, Russian and English (key -> {kk, ru, en})."""

from __future__ import annotations

FRAME: dict[str, dict[str, str]] = {
    # --- the frame ---------------------------------------------------------------------------
    "app.name": {"kk": "БЕАЖ — Білім берудің бірыңғай ақпараттық жүйесі",
                 "ru": "ЕИСО — Единая информационная система образования",
                 "en": "UISE — Unified Information System of Education"},
    "app.short": {"kk": "БЕАЖ", "ru": "ЕИСО", "en": "UISE"},
    "lang.switch": {"kk": "Тіл", "ru": "Язык", "en": "Language"},
    "nav.home": {"kk": "Басты бет", "ru": "Главная", "en": "Home"},
    "nav.forms": {"kk": "Нысандар", "ru": "Формы", "en": "Forms"},
    "nav.submissions": {"kk": "Тапсырылымдар", "ru": "Представления", "en": "Submissions"},
    "nav.board": {"kk": "Науқан тақтасы", "ru": "Ход кампании", "en": "Campaign board"},
    "nav.inbox": {"kk": "Кіріс", "ru": "Входящие", "en": "Inbox"},
    "nav.inforequests": {"kk": "Ақпарат сұраулары", "ru": "Запросы информации", "en": "Information requests"},
    "nav.formlists": {"kk": "Нысандар тізбесі", "ru": "Перечень форм", "en": "List of forms"},
    "nav.reports": {"kk": "Есептер", "ru": "Отчёты", "en": "Reports"},
    "nav.analytics": {"kk": "Талдау", "ru": "Аналитика", "en": "Analytics"},
    "nav.skip": {"kk": "Мазмұнға өту", "ru": "Перейти к содержанию", "en": "Skip to content"},
    "nav.sign_out": {"kk": "Шығу", "ru": "Выйти", "en": "Sign out"},
    "nav.signed_in_as": {"kk": "Кіргенсіз: {subject}, {role}, {participant}",
                         "ru": "Вы вошли: {subject}, {role}, {participant}",
                         "en": "Signed in: {subject}, {role}, {participant}"},
    "footer.text": {"kk": "Қазақстан Республикасы Оқу-ағарту министрлігі",
                    "ru": "Министерство просвещения Республики Казахстан",
                    "en": "Ministry of Education of the Republic of Kazakhstan"},
    # --- roles -------------------------------------------------------------------------------
    "role.head": {"kk": "бірінші басшы", "ru": "первый руководитель", "en": "head"},
    "role.signer": {"kk": "қол қою құқығы бар қызметкер", "ru": "сотрудник с правом подписи", "en": "signer"},
    "role.accountant": {"kk": "есепші", "ru": "бухгалтер", "en": "accountant"},
    "role.officer": {"kk": "маман", "ru": "специалист", "en": "officer"},
    "role.analyst": {"kk": "талдаушы", "ru": "аналитик", "en": "analyst"},
    "role.data_office": {"kk": "деректер басқармасы", "ru": "управление данных", "en": "data office"},
    # --- sign-in -----------------------------------------------------------------------------
    "signin.title": {"kk": "ЭЦҚ арқылы кіру", "ru": "Вход по ЭЦП", "en": "Sign in with your EDS"},
    "signin.lead": {"kk": "Кіру үшін NCALayer бағдарламасы арқылы ЭЦҚ-мен қол қойыңыз. Кілтіңіз ұйымыңыздың "
                          "(БСН) кілті болуы керек.",
                    "ru": "Чтобы войти, подпишите запрос своей ЭЦП через программу NCALayer. Нужен ключ "
                          "юридического лица (с БИН вашей организации).",
                    "en": "To sign in, sign the request with your EDS through NCALayer. Use your "
                          "organization's key (with its BIN)."},
    "signin.button": {"kk": "ЭЦҚ-мен кіру", "ru": "Войти с ЭЦП", "en": "Sign in with EDS"},
    "signin.working": {"kk": "NCALayer-де қол қойыңыз…", "ru": "Подпишите в NCALayer…",
                       "en": "Sign in NCALayer…"},
    "signin.checking": {"kk": "Қолтаңба тексерілуде…", "ru": "Проверяем подпись…", "en": "Checking the signature…"},
    "signin.no_ncalayer": {
        "kk": "NCALayer іске қосылмаған. Оны pki.gov.kz сайтынан жүктеп алып, орнатыңыз, іске қосыңыз да, "
              "қайталап көріңіз.",
        "ru": "NCALayer не запущен. Скачайте его на pki.gov.kz, установите, запустите и повторите попытку.",
        "en": "NCALayer is not running. Download it from pki.gov.kz, install and start it, then try again."},
    "signin.cancelled": {"kk": "Қол қою тоқтатылды.", "ru": "Подписание отменено.", "en": "Signing was cancelled."},
    "signin.get_ncalayer": {"kk": "NCALayer жүктеу (pki.gov.kz)", "ru": "Скачать NCALayer (pki.gov.kz)",
                            "en": "Get NCALayer (pki.gov.kz)"},
    "signin.noscript": {"kk": "Кіру үшін браузерде JavaScript қосулы болуы керек (NCALayer-мен байланыс).",
                        "ru": "Для входа в браузере должен быть включён JavaScript (связь с NCALayer).",
                        "en": "Signing in needs JavaScript in the browser (to talk to NCALayer)."},
    "signin.signed_out": {"kk": "Сіз жүйеден шықтыңыз.", "ru": "Вы вышли из системы.", "en": "You have signed out."},
    "signin.expired": {"kk": "Сеанс аяқталды; қайта кіріңіз.", "ru": "Сеанс завершён; войдите снова.",
                       "en": "Your session has ended; sign in again."},
    # --- errors ------------------------------------------------------------------------------
    "error.title": {"kk": "Қате", "ru": "Ошибка", "en": "Error"},
    "error.not_found": {"kk": "Бет табылмады.", "ru": "Страница не найдена.", "en": "Page not found."},
    "error.forbidden": {"kk": "Бұл бетті көруге рұқсатыңыз жоқ.", "ru": "У вас нет доступа к этой странице.",
                        "en": "You may not see this page."},
    "error.back": {"kk": "Басты бетке оралу", "ru": "Вернуться на главную", "en": "Back to the home page"},
    "error.code": {"kk": "Коды: {code}", "ru": "Код: {code}", "en": "Code: {code}"},
    # --- home --------------------------------------------------------------------------------
    "home.title": {"kk": "Басты бет", "ru": "Главная", "en": "Home"},
    "home.welcome": {"kk": "Қош келдіңіз", "ru": "Добро пожаловать", "en": "Welcome"},
    "home.forms": {"kk": "Биылғы нысандар, мерзімдері мен үлгілері",
                   "ru": "Формы этого года, сроки и шаблоны", "en": "This year's forms, deadlines and templates"},
    "home.submissions": {"kk": "Жіберілгендер, түбіртектер және олардың тарихы",
                         "ru": "Отправленное, квитанции и история", "en": "What was sent, receipts and history"},
    "home.board": {"kk": "Кім тапсырды, кім кешікті, кім тапсырмады",
                   "ru": "Кто сдал, кто опоздал, кто не сдал", "en": "Who delivered, who is late, who is missing"},
    "home.inbox": {"kk": "Бағыныстылардың тапсырылымдарын қабылдау немесе қайтару",
                   "ru": "Принять или вернуть представления подчинённых",
                   "en": "Accept or return your subordinates' submissions"},
    "home.inforequests": {"kk": "Берілген және жауап алынған сұраулар", "ru": "Выданные запросы и ответы на них",
                          "en": "Requests issued and their answers"},
    "home.formlists": {"kk": "Бекітілген нысандар тізбесі", "ru": "Утверждённый перечень форм",
                       "en": "The approved list of forms"},
    "home.reports": {"kk": "Қорытынды есептер және олардың нұсқалары", "ru": "Итоговые отчёты и их версии",
                     "en": "Final reports and their versions"},
    "home.analytics": {"kk": "Республикадан мектепке дейінгі көрсеткіштер",
                       "ru": "Показатели от республики до школы", "en": "Indicators from the nation down to a school"},
}


def _merged() -> dict[str, dict[str, str]]:
    from uise_portal.pages import ministry, officer, participant

    out = dict(FRAME)
    for texts in (participant.TEXTS, officer.TEXTS, ministry.TEXTS):
        clash = set(out) & set(texts)
        if clash:
            raise ValueError(f"a text key is defined twice: {sorted(clash)}")
        out.update(texts)
    return out


MESSAGES: dict[str, dict[str, str]] = _merged()
