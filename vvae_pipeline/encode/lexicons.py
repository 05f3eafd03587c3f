"""Word lists the candidate finder uses: function words, interjections, hobbies, closed-value cues.

General vocabulary only. Nothing here is taken from the demo generator (``ingest/demo.py``); a test
(``tests/unit/test_candidates.py``) checks that no demo persona value or template phrase is in here,
so that scoring on the demo measures general rules and not a lookup of the demo's own words.

Hobbies: a subset of the activities listed in Wikipedia's "List of hobbies"
(https://en.wikipedia.org/wiki/List_of_hobbies, indoor/outdoor/collection sections), with common
Chinese names of the same activities (zh.wikipedia.org "爱好"). Cues for the closed dimensions are
the dictionary words for each value (relationship nouns, trait adjectives) in both languages.
"""

from __future__ import annotations

EN_STOP = frozenset(
    "a an the i you he she it we they me him her us them my your our their is are was were be been am "
    "do does did to of in on at for with and or but so if that this these those as by from up down out "
    "not no yes what when where who how why which there here have has had will would can could should "
    "just then than too very also about into over all any some its it's i'm you're don't that's get got "
    "go going one like know think want really much more now well".split()
)
ZH_STOP = frozenset("的了吗呢吧啊是我你他她它们在有就也都和很不这那个要会说")

# Words that stand where a vocative would ("Well, ...", "Honestly, ...") but address nobody.
EN_NOT_NAMES = frozenset(
    "hey hi hello oh ah aw wow yeah yep yes no nope god gosh well sure okay ok right alright nice great cool "
    "thanks thank please sorry hmm hm um uh haha hahaha lol omg yay so actually anyway anyways honestly "
    "seriously basically maybe also plus first then now today tonight tomorrow yesterday look listen see "
    "fine good bad true exactly totally definitely absolutely wait ugh huh man indeed besides however "
    "still though otherwise sometimes usually and but or because".split()
)
ZH_NOT_NAME_START = tuple("我你他她它这那好哇哈嗯哦啊唉呃嘿喂对是不没就还也都")
ZH_NOT_NAME_END = tuple("了呢吧吗啊呀的么嘛哦")

EN_HOBBIES = (
    "reading", "painting", "drawing", "sketching", "hiking", "cooking", "baking", "gaming", "video games",
    "swimming", "running", "jogging", "cycling", "dancing", "singing", "photography", "gardening", "fishing",
    "hunting", "yoga", "knitting", "sewing", "crocheting", "traveling", "travelling", "camping", "chess",
    "guitar", "piano", "violin", "drums", "basketball", "football", "soccer", "tennis", "badminton",
    "volleyball", "baseball", "golf", "skiing", "snowboarding", "surfing", "skateboarding", "writing",
    "poetry", "anime", "puzzles", "board games", "woodworking", "pottery", "calligraphy", "origami",
    "bird watching", "birdwatching", "astronomy", "archery", "boxing", "martial arts", "karate", "kayaking",
    "sailing", "scuba diving", "horse riding", "collecting", "coin collecting", "stamp collecting",
    "blogging", "podcasts", "meditation", "weightlifting", "bowling", "shopping",
)
ZH_HOBBIES = (
    "看书", "读书", "阅读", "跑步", "慢跑", "游泳", "打游戏", "玩游戏", "做饭", "烹饪", "烘焙", "唱歌", "跳舞",
    "摄影", "旅行", "旅游", "爬山", "登山", "徒步", "瑜伽", "下棋", "象棋", "围棋", "吉他", "钢琴", "小提琴",
    "篮球", "足球", "网球", "排球", "乒乓球", "高尔夫", "滑雪", "滑板", "冲浪", "写作", "写诗", "书法",
    "追剧", "看电影", "听音乐", "动漫", "养花", "园艺", "健身", "骑行", "骑车", "露营", "编织", "手工", "集邮",
    "拼图", "冥想", "拳击", "武术", "太极", "射箭", "潜水", "划船", "打麻将", "麻将", "逛街", "购物",
)

# Closed dimensions whose value is a fact about the pair or the agent: answered only when the text
# carries one of these cues (the abstention rule), and then only among the values whose cues occur.
RELATIONSHIP_CUES: dict[str, tuple[str, ...]] = {
    "stranger": ("stranger", "never met", "nice to meet you", "陌生人", "初次见面", "不认识"),
    "acquaintance": ("acquaintance", "neighbor", "neighbour", "认识的人", "邻居", "熟人"),
    "friend": ("friend", "friends", "buddy", "pal", "朋友", "哥们", "兄弟们"),
    "close_friend": ("best friend", "bestie", "bff", "closest friend", "闺蜜", "最好的朋友", "死党", "铁哥们"),
    "lover": ("girlfriend", "boyfriend", "my wife", "my husband", "honey", "darling", "i love you", "女朋友",
              "男朋友", "老婆", "老公", "媳妇", "我爱你", "亲爱的"),
    "family": ("mom", "mum", "dad", "mother", "father", "sister", "brother", "son", "daughter", "grandma",
               "grandpa", "妈", "爸", "我哥", "我姐", "我弟", "我妹", "儿子", "女儿", "奶奶", "爷爷", "外婆"),
    "colleague": ("colleague", "coworker", "co-worker", "office", "our team", "同事", "领导", "公司里", "办公室"),
    "classmate": ("classmate", "class", "roommate", "同学", "室友", "班长", "同桌"),
    "mentor": ("teacher", "mentor", "coach", "professor", "student", "老师", "师傅", "导师", "教练", "学生"),
    "enemy": ("enemy", "rival", "hate you", "敌人", "对手", "仇人", "讨厌你"),
}
PERSONALITY_CUES: dict[str, tuple[str, ...]] = {
    "outgoing": ("outgoing", "extrovert", "extroverted", "love parties", "social butterfly", "外向", "开朗",
                 "自来熟", "爱热闹"),
    "introverted": ("introvert", "introverted", "keep to myself", "stay home", "alone time", "内向", "宅在家",
                    "不爱说话", "一个人待着"),
    "caring": ("caring", "take care", "look after", "are you ok", "worried about you", "照顾", "担心你",
               "注意身体", "早点休息", "多穿点"),
    "humorous": ("joke", "joking", "kidding", "funny", "haha", "lol", "开玩笑", "逗你", "幽默", "搞笑", "哈哈"),
    "optimistic": ("optimistic", "bright side", "it'll be fine", "positive", "乐观", "往好处想", "会好起来"),
    "pessimistic": ("pessimistic", "hopeless", "never works", "doomed", "悲观", "没希望", "没救了"),
    "stubborn": ("stubborn", "my way", "won't change", "固执", "倔", "我不管", "就是不"),
    "shy": ("shy", "embarrassed", "blush", "害羞", "不好意思", "脸红"),
    "confident": ("confident", "of course i can", "easy for me", "自信", "包在我身上", "小菜一碟"),
    "tsundere": ("tsundere", "baka", "it's not like i", "傲娇", "口是心非", "谁稀罕"),
}
CLOSED_CUES = {"relationship": RELATIONSHIP_CUES, "personality": PERSONALITY_CUES}
# tone and vibe describe how every utterance is said: answered whenever the agent wrote at least
# this much (characters of its own text in c and x), null below.
MIN_STYLE_CHARS = 8
ZH_NOT_NAMES = frozenset(("谢谢", "真的", "其实", "然后", "所以", "但是", "不过", "而且", "现在", "今天", "明天",
                          "昨天", "刚才", "当然", "没事", "算了", "好吧", "没错", "是的", "不是", "可是", "还有",
                          "反正", "总之", "天哪", "完了", "对不起", "等等", "行"))
