"""Data tables for the demo seed: centres, categories, texts and names.

Plain values only; ``tracker.demo`` turns them into rows and tickets. Texts
come in pairs (Chinese, English): a ticket is written in its requester's
language and the staff answer in the same language.
"""

from dataclasses import dataclass, field

from tracker.domain.workflow import HoldReason, Priority

# ---------------------------------------------------------------- centres


@dataclass(frozen=True)
class CentreSpec:
    code: str
    prefix: str
    name_en: str
    name_zh: str
    # (zh, en): the centre's description in each language.
    description: tuple[str, str]
    # Share of all requests, and how the centre works.
    weight: float
    technicians: int
    # Responds round the clock (repairs promises 30 minutes, 24x7).
    round_clock: bool = False
    # Share of requests a dispatcher assigns; technicians take the rest from the queue.
    dispatch_share: float = 0.6
    # Minutes from acceptance to arrival, and from arrival to resolution (log-uniform).
    arrive_minutes: tuple[int, int] = (30, 240)
    fix_minutes: tuple[int, int] = (30, 480)
    hold_share: float = 0.06
    hold_reasons: tuple[tuple[HoldReason, float], ...] = (
        (HoldReason.WAITING_PARTS, 3),
        (HoldReason.REQUESTER_UNAVAILABLE, 2),
        (HoldReason.THIRD_PARTY, 1),
        (HoldReason.SCHEDULED, 1),
    )


CENTRES = (
    CentreSpec(
        "general", "GA", "General Affairs Centre", "综合事务中心",
        (
            "公文证明、会议室、通知公告与校园宣传。",
            "Documents and certificates, meeting rooms, notices and campus publicity.",
        ),
        weight=4, technicians=2, fix_minutes=(60, 2880), hold_share=0.04,
        hold_reasons=((HoldReason.THIRD_PARTY, 2), (HoldReason.REQUESTER_UNAVAILABLE, 1), (HoldReason.OTHER, 1)),
    ),
    CentreSpec(
        "finance", "FA", "Financial Accounting Centre", "财务核算中心",
        (
            "报销、发票、缴费与付款咨询。",
            "Reimbursements, invoices, fees and payment questions.",
        ),
        weight=5, technicians=2, dispatch_share=0.5, fix_minutes=(60, 4320), hold_share=0.08,
        hold_reasons=((HoldReason.REQUESTER_UNAVAILABLE, 2), (HoldReason.THIRD_PARTY, 2), (HoldReason.OTHER, 1)),
    ),
    CentreSpec(
        "dorm", "DM", "Dormitory Management Centre", "宿舍管理中心",
        (
            "学生宿舍：设施、钥匙门锁、热水、调换宿舍、卫生与学生关怀。",
            "Student dormitories: room facilities, keys, hot water, moves, hygiene and welfare.",
        ),
        weight=15, technicians=3, arrive_minutes=(15, 240), fix_minutes=(15, 300), hold_share=0.07,
    ),
    CentreSpec(
        "gardens", "GD", "Landscaping and Gardens Centre", "园林绿化中心",
        (
            "两校区树木、草坪、病虫害、灌溉与绿化活动。",
            "Trees, lawns, pests, irrigation and planting activities across both campuses.",
        ),
        weight=5, technicians=2, arrive_minutes=(60, 1440), fix_minutes=(60, 2880), hold_share=0.08,
        hold_reasons=((HoldReason.SCHEDULED, 3), (HoldReason.THIRD_PARTY, 1), (HoldReason.WAITING_PARTS, 1)),
    ),
    CentreSpec(
        "catering", "CT", "Catering Centre", "饮食服务中心",
        (
            "食堂：饭菜质量、食品卫生、服务、开放时间与刷卡机。",
            "Canteens: food quality, hygiene, service, opening hours and card readers.",
        ),
        weight=8, technicians=2, arrive_minutes=(15, 180), fix_minutes=(30, 1440), hold_share=0.05,
    ),
    CentreSpec(
        "property", "PS", "Property Services Centre", "物业服务中心",
        (
            "保洁、安保门禁、电梯、垃圾清运与楼宇管理。",
            "Cleaning, security, lifts, waste and building management.",
        ),
        weight=12, technicians=3, dispatch_share=0.7, arrive_minutes=(10, 120), fix_minutes=(15, 300),
        hold_share=0.06,
        hold_reasons=((HoldReason.THIRD_PARTY, 2), (HoldReason.WAITING_PARTS, 2), (HoldReason.ACCESS_DENIED, 1)),
    ),
    CentreSpec(
        "projects", "PM", "Project Management Centre", "工程管理中心",
        (
            "装修改造、施工质量、保修维修与施工影响。",
            "Renovation works, construction defects, warranty repairs and building sites.",
        ),
        weight=3, technicians=2, dispatch_share=0.9, arrive_minutes=(240, 4320), fix_minutes=(1440, 20160),
        hold_share=0.25,
        hold_reasons=((HoldReason.THIRD_PARTY, 3), (HoldReason.SCHEDULED, 2), (HoldReason.WAITING_PARTS, 2)),
    ),
    CentreSpec(
        "business", "BO", "Business Operations Centre", "经营服务中心",
        (
            "校车（时刻、网上预约）与自助设备：售货机、洗衣机、打印机。",
            "Campus shuttle buses (timetable, online booking) and self-service machines: vending, laundry, printing.",
        ),
        weight=10, technicians=3, arrive_minutes=(30, 720), fix_minutes=(20, 600), hold_share=0.1,
        hold_reasons=((HoldReason.THIRD_PARTY, 3), (HoldReason.WAITING_PARTS, 2)),
    ),
    CentreSpec(
        "repairs", "RP", "Repair and Maintenance Centre", "维修服务中心",
        (
            "水、电、照明、门窗、空调与网络端口维修。7×24小时报修，30分钟内响应。",
            "Water, power, lighting, doors and windows, air-conditioning and network points. "
            "Answers every fault within 30 minutes, round the clock.",
        ),
        weight=38, technicians=6, round_clock=True, dispatch_share=0.7, arrive_minutes=(10, 90),
        fix_minutes=(15, 180), hold_share=0.1,
        hold_reasons=(
            (HoldReason.WAITING_PARTS, 5),
            (HoldReason.REQUESTER_UNAVAILABLE, 2),
            (HoldReason.ACCESS_DENIED, 1),
            (HoldReason.SCHEDULED, 1),
        ),
    ),
)

# ---------------------------------------------------------------- categories

# A template: (title zh, description zh, title en, description en).
Template = tuple[str, str, str, str]
# A bilingual text: (zh, en).
Text = tuple[str, str]


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name_en: str
    name_zh: str
    priority: Priority
    weight: float
    # Location groups the request is about (see demo._create_locations); empty: no place.
    places: tuple[str, ...]
    # Someone goes to the place (ARRIVE); office matters are resolved from the desk.
    on_site: bool
    # Who files it: "student", "staff" or "any".
    audience: str
    templates: tuple[Template, ...]
    resolutions: tuple[Text, ...]
    materials: tuple[str, ...] = ()
    # Month (1-12) -> factor on this category's share.
    season: dict = field(default_factory=dict)
    # Replaces the centre's fix_minutes.
    fix_minutes: tuple[int, int] | None = None


ROOMS = ("dorm_rooms", "teaching_rooms", "labs", "office_rooms", "library_rooms")
SUMMER = {6: 2.2, 7: 2.5, 8: 2.5, 9: 2.0, 5: 1.2, 10: 0.6, 11: 0.4, 12: 0.8, 1: 0.9, 2: 0.6, 3: 0.4, 4: 0.5}
WINTER = {11: 1.4, 12: 1.7, 1: 1.8, 2: 1.3, 3: 1.1, 6: 0.7, 7: 0.6, 8: 0.6}
GROWING = {4: 1.6, 5: 1.8, 6: 1.8, 7: 1.6, 8: 1.5, 9: 1.3, 11: 0.5, 12: 0.3, 1: 0.2, 2: 0.3}

CATEGORIES: dict[str, tuple[CategorySpec, ...]] = {
    "general": (
        CategorySpec(
            "documents", "Documents and certificates", "公文与证明", Priority.NORMAL, 3, (), False, "staff",
            (
                ("开具在职证明", "因办理签证需要开具在职证明（中英文各一份），请问需要准备哪些材料，多久可以领取？",
                 "Employment certificate", "I need an employment certificate in Chinese and English for a visa "
                 "application. What do I need to bring and when can I collect it?"),
                ("公文流转进度查询", "我院上周报送的关于实验室改造的请示，目前流转到哪一步了？麻烦帮忙查询。",
                 "Where is our memo?", "Our school sent a request about the lab renovation last week. Could you "
                 "tell me where it is in the approval process?"),
                ("用印申请", "合作协议需要加盖学校公章，协议文本已经法务审核，请问如何办理用印？",
                 "Company seal for an agreement", "A cooperation agreement needs the university seal; legal "
                 "has reviewed it. How do I apply?"),
            ),
            (("已办理完毕，请到行政楼105室领取。", "Done; please collect it at room 105 of the Administration Building."),
             ("已查询并电话告知当前进度。", "Checked and told the requester the current status by phone.")),
        ),
        CategorySpec(
            "meeting_rooms", "Meeting rooms", "会议室", Priority.NORMAL, 3, ("office_rooms",), True, "staff",
            (
                ("会议室投影仪无法使用", "预约了会议室，投影仪无法开机，下午两点有会议，请尽快协助。",
                 "Projector not working", "The projector in the meeting room I booked does not turn on. "
                 "We have a meeting at 2 pm."),
                ("会议室预约冲突", "系统显示我已成功预约周四上午的会议室，但到场发现另一个部门在使用。",
                 "Meeting room double-booked", "The system confirmed my booking for Thursday morning, but "
                 "another department is using the room."),
                ("会议室话筒没有声音", "会议室无线话筒没有声音，换了电池也不行。",
                 "Microphone silent", "The wireless microphone in the meeting room gives no sound, even with "
                 "new batteries."),
            ),
            (("已更换投影仪电源线，设备恢复正常。", "Replaced the projector's power cable; it works again."),
             ("已协调调整预约，并在系统中更正。", "Rearranged the bookings and corrected them in the system.")),
        ),
        CategorySpec(
            "notices", "Notices", "通知公告", Priority.LOW, 2, ("buildings",), False, "staff",
            (
                ("通知公告发布申请", "申请在校园网发布后勤服务满意度调查的通知，附件已准备好。",
                 "Publish a notice", "Please publish the notice about the logistics satisfaction survey on the "
                 "campus website; the attachment is ready."),
                ("宣传栏通知过期未更新", "楼下宣传栏里还贴着上学期的通知，建议及时更新。",
                 "Outdated notices on the board", "The notice board downstairs still shows last term's notices."),
            ),
            (("通知已审核发布。", "The notice is reviewed and published."),
             ("已清理过期通知并张贴最新内容。", "Removed the old notices and put up the current ones.")),
        ),
        CategorySpec(
            "publicity", "Campus publicity", "校园宣传", Priority.LOW, 2, ("areas",), False, "any",
            (
                ("横幅悬挂申请", "学院下周举办学术会议，申请在主干道悬挂欢迎横幅三天。",
                 "Banner for a conference", "Our school hosts a conference next week; we would like to hang a "
                 "welcome banner on the main avenue for three days."),
                ("海报张贴位置咨询", "学生社团招新，请问可以在哪些地方张贴海报？",
                 "Where to put up posters", "Our student club is recruiting. Where may we put up posters?"),
            ),
            (("已批准，横幅请于周一上午悬挂，周四前撤除。", "Approved: hang it on Monday morning and take it down by Thursday."),
             ("已告知可张贴的宣传栏位置。", "Told the requester which notice boards may be used.")),
        ),
    ),
    "finance": (
        CategorySpec(
            "reimbursement", "Reimbursements", "报销", Priority.NORMAL, 5, (), False, "staff",
            (
                ("差旅费报销进度", "三周前提交的差旅费报销单至今未到账，请帮忙查询进度。",
                 "Travel claim still unpaid", "I submitted a travel expense claim three weeks ago and have not "
                 "been paid yet. Could you check?"),
                ("报销单据被退回", "报销单被退回，提示“发票抬头不符”，但发票抬头是学校全称，请帮忙核实。",
                 "Claim returned", "My claim came back with 'invoice title does not match', but the invoice "
                 "shows the university's full name. Please check."),
                ("科研经费报销咨询", "课题组购买的实验耗材可以从哪个经费项目报销？需要附哪些材料？",
                 "Which grant pays for lab supplies?", "Which grant code can our group use for lab consumables, "
                 "and which documents are needed?"),
            ),
            (("已核实，款项已于今日支付。", "Checked: the payment went out today."),
             ("已说明原因，补充材料后重新提交即可。", "Explained the reason; resubmit with the missing document.")),
        ),
        CategorySpec(
            "invoices", "Invoices", "发票", Priority.NORMAL, 3, (), False, "any",
            (
                ("开具缴费发票", "已缴纳住宿费，需要开具电子发票用于单位报销。",
                 "Invoice for a fee", "I paid my accommodation fee and need an electronic invoice for my sponsor."),
                ("发票信息有误", "收到的电子发票纳税人识别号有误，需要重开。",
                 "Wrong tax number on invoice", "The electronic invoice I received has the wrong tax number and "
                 "must be reissued."),
            ),
            (("电子发票已重新开具并发送到邮箱。", "The electronic invoice is reissued and sent by e-mail."),
             ("已开具发票。", "Invoice issued.")),
        ),
        CategorySpec(
            "payments", "Fees and payments", "缴费与付款", Priority.NORMAL, 3, (), False, "any",
            (
                ("一卡通充值未到账", "昨晚通过手机给校园卡充值100元，余额一直没有变化。",
                 "Campus card top-up missing", "I topped up my campus card with 100 yuan last night on my phone, "
                 "but the balance has not changed."),
                ("学费缴纳咨询", "学费缴纳截止日期是哪天？可以分期吗？",
                 "Tuition fee deadline", "When is the deadline for tuition fees, and can I pay in instalments?"),
            ),
            (("已补录充值记录，余额已更新。", "Added the missing top-up; the balance is updated."),
             ("已电话答复。", "Answered by phone.")),
        ),
        CategorySpec(
            "labour_fees", "Payments to staff and students", "酬金发放", Priority.LOW, 2, (), False, "any",
            (
                ("助教劳务费未发放", "上个月的助教劳务费还没有发放，请问什么时候到账？",
                 "Teaching assistant pay missing", "Last month's teaching assistant pay has not arrived. "
                 "When will it be paid?"),
                ("酬金发放名单有误", "本月评审专家酬金名单中有一人银行卡号填写错误。",
                 "Wrong account in payment list", "One reviewer's bank account number in this month's payment "
                 "list is wrong."),
            ),
            (("已随本月批次发放。", "Paid with this month's batch."),
             ("已更正并重新发放。", "Corrected and paid again.")),
        ),
    ),
    "dorm": (
        CategorySpec(
            "room_facilities", "Room facilities", "宿舍设施", Priority.NORMAL, 4, ("dorm_rooms",), True, "student",
            (
                ("床板断裂", "宿舍上铺床板有一根横梁断了，睡觉时很不安全。",
                 "Broken bed slat", "A slat of the upper bunk is broken; it is not safe to sleep on."),
                ("衣柜门脱落", "衣柜门合页松了，门已经掉下来了。",
                 "Wardrobe door fell off", "The wardrobe door hinge came loose and the door fell off."),
                ("窗帘轨道坏了", "窗帘轨道一端脱落，窗帘拉不上。",
                 "Curtain rail broken", "One end of the curtain rail came off; the curtain will not close."),
            ),
            (("已更换床板并加固。", "Replaced and secured the bed slat."),
             ("已重新安装合页。", "Refitted the hinges.")),
            ("床板", "合页 ×2", "窗帘轨道"),
        ),
        CategorySpec(
            "keys_locks", "Keys and locks", "钥匙门锁", Priority.HIGH, 3, ("dorm_rooms",), True, "student",
            (
                ("钥匙丢失需配钥匙", "宿舍钥匙丢了，室友都不在，进不了门。",
                 "Lost my key", "I lost my room key and my roommates are out; I cannot get in."),
                ("门锁损坏无法反锁", "宿舍门锁坏了，从里面无法反锁。",
                 "Door cannot be locked", "The room's lock is broken; it cannot be locked from inside."),
                ("智能门锁没电", "宿舍智能门锁提示电量低，现在刷卡打不开门。",
                 "Smart lock battery flat", "The smart lock says its battery is low and my card no longer "
                 "opens the door."),
            ),
            (("已开门并配发新钥匙。", "Opened the door and issued a new key."),
             ("已更换门锁锁芯。", "Replaced the lock cylinder.")),
            ("锁芯", "钥匙 ×2", "门锁电池 ×4"),
        ),
        CategorySpec(
            "hot_water", "Hot water and showers", "热水与洗浴", Priority.HIGH, 3, ("dorm_rooms", "dorm_floors"),
            True, "student",
            (
                ("没有热水", "从昨天晚上开始卫生间就没有热水了，整层楼都是这样。",
                 "No hot water", "There has been no hot water since last night, on the whole floor."),
                ("淋浴刷卡器不扣费", "淋浴刷卡器刷卡后没有反应，出不了水。",
                 "Shower card reader dead", "The shower's card reader does not react, so no water comes out."),
            ),
            (("热水循环泵故障，已更换，供水恢复。", "The hot water pump had failed; replaced, supply restored."),
             ("已更换刷卡器。", "Replaced the card reader.")),
            ("循环泵", "淋浴刷卡器"),
            WINTER,
        ),
        CategorySpec(
            "room_change", "Room changes and moves", "调换宿舍", Priority.LOW, 2, ("dorm_rooms",), False, "student",
            (
                ("申请调换宿舍", "因作息时间差异较大，申请调换到同楼层其他宿舍。",
                 "Room change", "Our daily schedules differ a lot; I would like to move to another room on "
                 "the same floor."),
                ("毕业生退宿办理", "本人已毕业，申请办理退宿手续，请问需要什么材料？",
                 "Moving out after graduation", "I have graduated and want to move out. What do I need?"),
            ),
            (("已办理调整，请于周五前搬入新宿舍。", "Approved; please move into the new room before Friday."),
             ("已办理退宿手续。", "Move-out completed.")),
            season={6: 2.5, 7: 2.0, 9: 2.5},
        ),
        CategorySpec(
            "hygiene", "Hygiene", "公共卫生", Priority.NORMAL, 2, ("dorm_floors",), True, "student",
            (
                ("楼道垃圾未清理", "楼道的垃圾桶已经满了两天，没有人清理，有异味。",
                 "Rubbish not collected", "The bins in the corridor have been full for two days and smell."),
                ("卫生间下水有异味", "公共卫生间下水道返味严重。",
                 "Smell from the drains", "The shared washroom's drains smell badly."),
            ),
            (("已安排保洁清理，并调整清运频次。", "Cleaned, and the bins are now emptied more often."),
             ("已疏通下水并加装防臭地漏。", "Cleared the drain and fitted an odour trap.")),
        ),
        CategorySpec(
            "welfare", "Student welfare", "学生关怀", Priority.NORMAL, 1, ("dorm_rooms",), False, "student",
            (
                ("室友生病需要帮助", "室友发烧39度，需要帮忙联系校医院。",
                 "Roommate is ill", "My roommate has a fever of 39 °C; please help us contact the clinic."),
                ("夜间宿舍噪音", "楼上宿舍每天凌晨还很吵，影响休息。",
                 "Noise at night", "The room above is noisy past midnight every day."),
            ),
            (("宿管已陪同就医，并通知辅导员。", "The warden went to the clinic with the student and told the counsellor."),
             ("已与相关宿舍沟通，后续持续关注。", "Talked to the room concerned; we keep an eye on it.")),
        ),
    ),
    "gardens": (
        CategorySpec(
            "fallen_trees", "Fallen trees and branches", "树木倒伏与断枝", Priority.HIGH, 2, ("areas", "buildings"),
            True, "any",
            (
                ("大树倒伏挡路", "昨晚大风，一棵树倒伏，挡住了人行道。",
                 "Fallen tree blocks the path", "A tree came down in last night's wind and blocks the footpath."),
                ("枯枝悬挂有坠落风险", "楼前的梧桐树上有一根大枯枝悬挂，随时可能掉下来。",
                 "Dead branch about to fall", "A large dead branch hangs from the plane tree in front of the "
                 "building and may fall at any time."),
            ),
            (("已清理倒伏树木并恢复通行。", "Removed the tree; the path is open."),
             ("已修剪枯枝并设置警示。", "Cut the dead branch and put up a warning.")),
            season={7: 2.5, 8: 2.5, 9: 2.0, 1: 0.5, 2: 0.5},
        ),
        CategorySpec(
            "lawns", "Lawns", "草坪养护", Priority.LOW, 2, ("areas",), True, "any",
            (
                ("草坪需要修剪", "草坪杂草长得很高，影响美观，也容易有蚊虫。",
                 "Lawn needs mowing", "The grass is very long; it looks untidy and attracts mosquitoes."),
                ("草坪被踩出小路", "草坪中间被踩出一条小路，建议设置围挡或铺设步道。",
                 "Path worn across the lawn", "People have worn a path across the lawn; a fence or stepping "
                 "stones would help."),
            ),
            (("已安排修剪。", "Mowed."), ("已铺设汀步。", "Laid stepping stones.")),
            season=GROWING,
        ),
        CategorySpec(
            "pests", "Pests", "病虫害", Priority.NORMAL, 2, ("areas", "buildings"), True, "any",
            (
                ("树上有大量毛毛虫", "路边的树上有很多毛毛虫，掉到路上，学生很害怕。",
                 "Caterpillars everywhere", "The roadside trees are full of caterpillars falling onto the path."),
                ("发现马蜂窝", "窗外发现一个马蜂窝，担心有人被蛰。",
                 "Wasp nest", "There is a wasp nest outside the window; someone may get stung."),
            ),
            (("已喷药防治。", "Sprayed."), ("已摘除马蜂窝。", "Removed the wasp nest.")),
            season=GROWING,
        ),
        CategorySpec(
            "irrigation", "Irrigation", "灌溉设施", Priority.NORMAL, 1, ("areas",), True, "any",
            (
                ("喷灌水管漏水", "草坪上的喷灌管爆了，一直在冒水。",
                 "Sprinkler pipe burst", "A sprinkler pipe on the lawn burst and water keeps running."),
            ),
            (("已更换破损管段。", "Replaced the broken pipe section."),),
            ("PE管 3米", "喷头 ×2"),
            GROWING,
        ),
        CategorySpec(
            "planting", "Planting and green spaces", "绿植与种植活动", Priority.LOW, 1, ("areas",), False, "any",
            (
                ("植树活动申请", "学院团委计划组织植树活动，需要场地和树苗支持。",
                 "Tree-planting day", "Our student league plans a tree-planting day and needs a site and saplings."),
                ("办公室绿植枯萎", "办公室租摆的绿植已经枯萎，请更换。",
                 "Office plants dead", "The rented plants in our office have died; please replace them."),
            ),
            (("已确定场地并备好树苗。", "Site agreed and saplings ready."), ("已更换绿植。", "Replaced the plants.")),
            season={3: 2.5, 4: 1.8},
        ),
    ),
    "catering": (
        CategorySpec(
            "food_quality", "Food quality", "饭菜质量", Priority.NORMAL, 4, ("canteens",), False, "any",
            (
                ("菜里有异物", "中午在二楼窗口买的青菜里吃出了头发。",
                 "Hair in my food", "I found a hair in the greens I bought at a first-floor counter at lunch."),
                ("饭菜偏咸", "最近一周的菜普遍偏咸，希望改进。",
                 "Food too salty", "The dishes have been too salty all week."),
                ("米饭夹生", "今天晚餐的米饭没有煮熟。", "Rice undercooked", "The rice at dinner was undercooked."),
            ),
            (("已约谈窗口负责人，加强后厨检查，并退还餐费。", "Spoke to the counter's manager, tightened kitchen checks, refunded the meal."),
             ("已反馈厨师团队调整口味。", "Passed on to the kitchen team, who adjusted the seasoning.")),
        ),
        CategorySpec(
            "food_hygiene", "Hygiene", "食品卫生", Priority.HIGH, 2, ("canteens",), True, "any",
            (
                ("餐具没洗干净", "取用的餐盘上有油渍和残渣。",
                 "Dirty trays", "The trays have grease and leftovers on them."),
                ("餐桌清理不及时", "用餐高峰期餐桌上堆满残食，没人清理。",
                 "Tables not cleared", "At peak time the tables are covered in leftovers and nobody clears them."),
            ),
            (("已重新清洗消毒全部餐具，并加强检查。", "Washed and disinfected all trays again; checks tightened."),
             ("高峰期增加保洁人员。", "More cleaners at peak times.")),
        ),
        CategorySpec(
            "service", "Service", "服务态度", Priority.NORMAL, 2, ("canteens",), False, "any",
            (
                ("打菜分量不足", "同样价格，分量比以前少了很多。",
                 "Small portions", "For the same price the portions are much smaller than before."),
                ("工作人员态度不好", "窗口工作人员语气很冲，问菜价也不耐烦。",
                 "Rude counter staff", "The counter staff were rude and impatient when I asked the price."),
            ),
            (("已对窗口人员进行批评教育。", "The counter staff were spoken to."),
             ("已核查并统一打菜标准。", "Checked and set a standard portion.")),
        ),
        CategorySpec(
            "card_readers", "Card readers", "刷卡机", Priority.HIGH, 2, ("pos",), True, "any",
            (
                ("刷卡机无法识别校园卡", "刷卡机刷卡没有反应，排了很长的队。",
                 "Card reader does not read cards", "The card reader does not react to campus cards; the queue is long."),
                ("刷卡重复扣费", "刷卡时扣了两次费，请核实退款。",
                 "Charged twice", "The card reader charged me twice; please refund."),
            ),
            (("已重启并更换读卡模块。", "Restarted and replaced the reader module."),
             ("已核实并退还重复扣款。", "Confirmed and refunded the double charge.")),
            ("读卡模块",),
        ),
        CategorySpec(
            "opening_hours", "Opening hours", "开放时间", Priority.LOW, 1, ("canteens",), False, "student",
            (
                ("延长晚餐供应时间", "实验课经常到七点才结束，希望食堂晚餐供应延长到八点。",
                 "Longer dinner hours", "Lab classes often end at 7 pm; please serve dinner until 8 pm."),
            ),
            (("二楼窗口晚餐供应延长至20:00。", "First-floor counters now serve dinner until 20:00."),),
        ),
        CategorySpec(
            "menu", "Menu and prices", "菜品与价格", Priority.LOW, 1, ("canteens",), False, "any",
            (
                ("希望增加素食窗口", "希望食堂能增加素食和清真菜品的选择。",
                 "More vegetarian food", "Please add more vegetarian and halal dishes."),
                ("菜价上涨", "最近几道常见菜价格上涨较多，希望公示价格。",
                 "Prices went up", "Several common dishes became much dearer; please display the prices."),
            ),
            (("已在一楼增设素食窗口。", "Opened a vegetarian counter on the ground floor."),
             ("已公示价格及调整原因。", "Posted the prices and the reason for the change.")),
        ),
    ),
    "property": (
        CategorySpec(
            "cleaning", "Cleaning", "保洁", Priority.NORMAL, 4, ("teaching_rooms", "floors"), True, "any",
            (
                ("教室地面很脏", "教室地面有饮料洒落，很黏。",
                 "Sticky classroom floor", "Someone spilled a drink in the classroom; the floor is sticky."),
                ("卫生间缺纸巾洗手液", "这层卫生间没有纸巾和洗手液了。",
                 "No soap or paper", "The washroom on this floor has no paper towels or soap."),
            ),
            (("已清洁完毕。", "Cleaned."), ("已补充耗材。", "Restocked.")),
        ),
        CategorySpec(
            "security", "Security and access", "安全与门禁", Priority.HIGH, 2, ("buildings", "areas"), True, "any",
            (
                ("门禁刷卡无法进入", "大楼门禁刷卡没反应，晚上进不去。",
                 "Access card refused", "The building's access control ignores my card; I cannot get in at night."),
                ("可疑人员", "自习室发现有人翻看他人物品，请保安来看看。",
                 "Suspicious person", "Someone is going through other people's things in the study room."),
            ),
            (("已恢复门禁权限。", "Access restored."), ("保安已到场处置。", "Security attended and dealt with it.")),
        ),
        CategorySpec(
            "lifts", "Lifts", "电梯", Priority.URGENT, 2, ("lift_buildings",), True, "any",
            (
                ("电梯困人", "电梯停在三楼和四楼之间，里面有人被困！",
                 "People trapped in the lift", "The lift stopped between the 3rd and 4th floors with people inside!"),
                ("电梯按钮失灵", "电梯5楼按钮按了没反应。", "Lift button dead", "The lift's 5th-floor button does not work."),
                ("电梯异响", "电梯运行时有很大的摩擦声。", "Lift noise", "The lift makes a loud grinding noise."),
            ),
            (("维保单位已到场解救并检修，电梯恢复运行。", "The lift contractor freed the passengers and repaired the lift."),
             ("已更换按钮面板。", "Replaced the button panel.")),
            ("按钮面板",),
            fix_minutes=(20, 240),
        ),
        CategorySpec(
            "building", "Building management", "楼宇管理", Priority.NORMAL, 2, ("buildings",), True, "staff",
            (
                ("教室晚上不开门", "晚上七点教学楼就锁门了，自习的同学进不去。",
                 "Building locked too early", "The teaching building is locked at 7 pm; students cannot study."),
                ("公共区域照明常亮", "大厅白天灯一直开着，浪费电。",
                 "Lights on all day", "The hall lights stay on all day."),
            ),
            (("已调整开放时间至22:30。", "Opening hours extended to 22:30."),
             ("已加装定时控制。", "Fitted a timer.")),
        ),
        CategorySpec(
            "waste", "Waste collection", "垃圾清运", Priority.NORMAL, 2, ("areas", "buildings"), True, "any",
            (
                ("垃圾站满溢", "垃圾站已经满了，垃圾堆到了路边。",
                 "Bins overflowing", "The bin station is full and rubbish is piling up on the road."),
                ("大件垃圾清运", "楼下堆放了大量废旧家具，需要清运。",
                 "Bulky waste", "Old furniture is piled up outside the building and needs removing."),
            ),
            (("已清运完毕。", "Cleared."), ("已联系清运车辆运走。", "Removed by truck.")),
            season={6: 2.0, 7: 1.5},
        ),
        CategorySpec(
            "parking", "Parking", "停车管理", Priority.LOW, 1, ("buildings", "areas"), False, "staff",
            (
                ("电动车乱停放", "门口电动车乱停，堵住了消防通道。",
                 "E-bikes block the fire lane", "E-bikes parked at the entrance block the fire lane."),
            ),
            (("已清理并划定停放区域。", "Cleared and marked a parking area."),),
        ),
    ),
    "projects": (
        CategorySpec(
            "renovation", "Renovation works", "装修改造", Priority.NORMAL, 2, ("labs", "office_rooms"), True, "staff",
            (
                ("实验室改造需求", "课题组需要将实验室改造为洁净间，申请工程评估。",
                 "Lab renovation", "Our group needs the lab converted into a clean room; please assess the work."),
                ("办公室隔断改造", "办公室需要增加一道隔断，分出一间小会议室。",
                 "Office partition", "We need a partition to make a small meeting room in our office."),
            ),
            (("已完成现场评估并出具改造方案，纳入本年度工程计划。", "Assessed on site; the plan is in this year's works programme."),
             ("隔断已施工完毕并验收。", "Partition built and accepted.")),
        ),
        CategorySpec(
            "defects", "Construction defects", "施工质量问题", Priority.HIGH, 2, ("buildings", "teaching_rooms"), True,
            "staff",
            (
                ("新装修教室墙面开裂", "暑假刚翻新的教室墙面出现多条裂缝。",
                 "Cracks in renovated classroom", "Several cracks appeared in a classroom renovated last summer."),
                ("屋面渗漏", "顶层下雨后天花板渗水。", "Roof leaks", "The top-floor ceiling leaks when it rains."),
            ),
            (("已责令施工单位返工修复。", "The contractor redid the work."),
             ("已重做屋面防水。", "Roof waterproofing redone.")),
        ),
        CategorySpec(
            "warranty", "Warranty repairs", "保修期维修", Priority.NORMAL, 1, ("buildings", "office_rooms"), True,
            "staff",
            (
                ("保修期内地板起鼓", "去年新铺的木地板起鼓变形。",
                 "Floor bulging", "The wooden floor laid last year is bulging."),
                ("新换窗户关不严", "新换的铝合金窗户关不严，漏风。",
                 "New windows do not close", "The new aluminium windows do not close properly; it is draughty."),
            ),
            (("施工单位已按保修条款维修。", "Repaired by the contractor under warranty."),),
        ),
        CategorySpec(
            "site_impact", "Building-site disturbance", "施工影响", Priority.NORMAL, 1, ("buildings", "areas"), False,
            "any",
            (
                ("施工噪音影响上课", "教学楼旁工地上课时间施工，噪音很大。",
                 "Building-site noise in class time", "The site next to the teaching building works during "
                 "classes; it is very loud."),
                ("施工围挡占用道路", "施工围挡占用了半条道路，车辆通行困难。",
                 "Site fence blocks the road", "The site fence takes half the road; cars can hardly pass."),
            ),
            (("已要求施工单位调整作业时间，上课时间停止高噪音作业。", "The contractor stops noisy work during class hours."),
             ("已调整围挡位置。", "The fence was moved.")),
        ),
    ),
    "business": (
        CategorySpec(
            "shuttle_timetable", "Shuttle bus timetable", "校车时刻", Priority.NORMAL, 2, ("stops",), False, "any",
            (
                ("校车发车时间不合理", "早上第一班从东校区出发的校车7:40才发车，8点的课赶不上，建议提前到7:20。",
                 "First shuttle too late", "The first shuttle from East campus leaves at 7:40, too late for 8:00 "
                 "classes. Could it leave at 7:20?"),
                ("校车晚点", "今天17:30的校车晚了20分钟才到站。",
                 "Shuttle late", "Today's 17:30 shuttle arrived 20 minutes late."),
                ("下班时段班次太少", "17:00到18:00之间只有一班校车，下班的老师挤不上。",
                 "Too few buses after work", "Only one shuttle runs between 17:00 and 18:00; staff cannot get on."),
            ),
            (("已调整时刻表，新时刻下周一起执行。", "Timetable changed from next Monday."),
             ("已核实原因并提醒驾驶员准点发车。", "Found the cause and reminded the driver to keep time.")),
            fix_minutes=(240, 14400),
        ),
        CategorySpec(
            "shuttle_booking", "Shuttle online booking", "校车网上预约", Priority.HIGH, 2, ("stops",), False, "any",
            (
                ("校车预约系统无法登录", "手机上预约校车一直提示“系统繁忙”。",
                 "Cannot log in to booking", "Booking a shuttle on my phone keeps saying 'system busy'."),
                ("预约成功但无座位", "预约成功了，上车时司机说没有我的预约记录。",
                 "Booked but no seat", "My booking was confirmed but the driver had no record of it."),
            ),
            (("系统已修复。", "The booking system is fixed."), ("已核实并补登记录。", "Checked and added the booking.")),
            season={2: 1.5, 3: 1.8, 9: 1.8},
        ),
        CategorySpec(
            "vending", "Vending machines", "自动售货机", Priority.NORMAL, 2, ("vending",), True, "any",
            (
                ("售货机吞钱不出货", "扫码付款成功但是饮料没有掉出来。",
                 "Paid but nothing came out", "I paid by QR code but the drink did not drop."),
                ("售货机无法扫码支付", "售货机屏幕上的付款码刷不出来。",
                 "Cannot pay by QR code", "The vending machine shows no payment code."),
            ),
            (("已退款并维修出货电机。", "Refunded and repaired the dispensing motor."),
             ("已重启设备并恢复网络。", "Restarted the machine and restored its network.")),
            ("出货电机",),
        ),
        CategorySpec(
            "laundry", "Laundry machines", "自助洗衣机", Priority.NORMAL, 3, ("laundry",), True, "student",
            (
                ("洗衣机不脱水", "洗衣机洗完后衣服还是湿透的，脱水功能失效。",
                 "Washer does not spin", "After the wash the clothes are soaking wet; the spin does not work."),
                ("洗衣机付款后不启动", "付款成功了，洗衣机没有启动，钱也没退。",
                 "Paid but washer did not start", "I paid but the washer never started and I got no refund."),
            ),
            (("已更换排水泵，并退还费用。", "Replaced the drain pump and refunded the fee."),
             ("已退款，设备已恢复。", "Refunded; the machine works again.")),
            ("排水泵",),
        ),
        CategorySpec(
            "printing", "Printing machines", "自助打印机", Priority.NORMAL, 2, ("printers",), True, "any",
            (
                ("打印机卡纸", "自助打印机卡纸，无法打印。", "Printer jammed", "The self-service printer has a paper jam."),
                ("打印扣费但未出纸", "打印扣了费，但是没有出纸。",
                 "Charged but nothing printed", "I was charged but nothing was printed."),
            ),
            (("已清理卡纸并更换搓纸轮。", "Cleared the jam and replaced the pickup roller."),
             ("已退款并补充纸张。", "Refunded and refilled the paper.")),
            ("搓纸轮", "A4纸 ×2包", "硒鼓"),
            season={5: 1.5, 6: 1.8, 12: 1.5, 1: 1.3},
        ),
    ),
    "repairs": (
        CategorySpec(
            "water", "Water and plumbing", "给排水", Priority.HIGH, 6, ROOMS + ("floors",), True, "any",
            (
                ("水龙头漏水", "卫生间的水龙头一直在滴水，关不紧，已经持续两天了。",
                 "Leaking tap", "The washroom tap keeps dripping and will not close properly."),
                ("下水道堵塞", "卫生间地漏堵塞，洗澡时积水漫到门口。",
                 "Blocked drain", "The floor drain is blocked; the water reaches the door when we shower."),
                ("水管爆裂", "水管爆裂，水流得到处都是，请马上来人！",
                 "Burst pipe", "A pipe burst and water is everywhere. Please come at once!"),
                ("马桶水箱不停流水", "马桶水箱一直在流水，停不下来。",
                 "Toilet keeps running", "The toilet cistern keeps running."),
            ),
            (("已更换水龙头阀芯，不再滴水。", "Replaced the tap cartridge; no more drips."),
             ("已疏通下水管道。", "Cleared the drain."),
             ("已关闭阀门并更换爆裂管段。", "Closed the valve and replaced the burst section.")),
            ("水龙头阀芯", "PPR管 1米", "马桶进水阀", "生料带"),
        ),
        CategorySpec(
            "electricity", "Electricity", "电力", Priority.HIGH, 5, ROOMS + ("floors",), True, "any",
            (
                ("宿舍跳闸", "插座一用吹风机就跳闸，整个房间断电。",
                 "Breaker trips", "The breaker trips whenever we use a hair dryer; the whole room loses power."),
                ("插座烧焦", "书桌旁插座有焦糊味，已不敢使用。",
                 "Socket smells burnt", "The socket by the desk smells burnt; we dare not use it."),
                ("整层停电", "整层楼突然停电了。", "Whole floor without power", "The whole floor suddenly lost power."),
            ),
            (("已更换漏电开关。", "Replaced the residual-current breaker."),
             ("已更换烧损插座并检查线路。", "Replaced the burnt socket and checked the wiring.")),
            ("漏电开关", "五孔插座", "空气开关 16A"),
        ),
        CategorySpec(
            "lighting", "Lighting", "照明", Priority.NORMAL, 4, ROOMS + ("floors",), True, "any",
            (
                ("灯管不亮", "后排有三根灯管不亮，看黑板很吃力。",
                 "Lights out", "Three tubes at the back are out; it is hard to read the board."),
                ("楼道声控灯失灵", "楼道的声控灯晚上不亮，很不安全。",
                 "Corridor lights dead", "The corridor's sound-activated lights stay off at night; it is unsafe."),
            ),
            (("已更换LED灯管。", "Replaced the LED tubes."), ("已更换声控开关。", "Replaced the sensor switch.")),
            ("LED灯管 ×3", "声控开关"),
        ),
        CategorySpec(
            "doors_windows", "Doors and windows", "门窗", Priority.NORMAL, 4, ROOMS, True, "any",
            (
                ("窗户关不上", "窗户把手坏了，窗户关不上，晚上很冷。",
                 "Window does not close", "The window handle is broken and the window will not close."),
                ("门把手脱落", "门把手掉了，门打不开。", "Door handle came off", "The door handle came off; "
                 "the door does not open."),
                ("纱窗破损", "纱窗破了个大洞，蚊子很多。", "Torn fly screen", "The fly screen has a big hole."),
            ),
            (("已更换窗户执手。", "Replaced the window handle."), ("已重新安装门把手。", "Refitted the door handle.")),
            ("窗户执手", "门把手", "纱网"),
        ),
        CategorySpec(
            "air_conditioning", "Air-conditioning", "空调", Priority.HIGH, 4, ROOMS, True, "any",
            (
                ("空调不制冷", "空调开了一个小时还是吹热风，室内三十多度。",
                 "Air-conditioner not cooling", "The air-conditioner blows warm air after an hour; it is over "
                 "30 °C inside."),
                ("空调漏水", "空调内机往下滴水，桌子都湿了。",
                 "Air-conditioner dripping", "The indoor unit drips water onto the desk."),
                ("空调遥控器失灵", "空调遥控器按了没反应，换了电池也不行。",
                 "Remote control dead", "The air-conditioner's remote does nothing, even with new batteries."),
            ),
            (("已补充冷媒，制冷恢复。", "Recharged the refrigerant; cooling works."),
             ("已疏通排水管。", "Cleared the condensate pipe.")),
            ("R410A冷媒", "排水管 2米", "空调遥控器"),
            SUMMER,
        ),
        CategorySpec(
            "network", "Network points", "网络端口", Priority.NORMAL, 3,
            ("dorm_rooms", "office_rooms", "labs", "teaching_rooms"), True, "any",
            (
                ("网口无法上网", "墙上网口插上网线显示“未识别的网络”。",
                 "Network point dead", "The wall network point says 'unidentified network'."),
                ("网速很慢", "这几天有线网络网速很慢，经常断线。",
                 "Network slow", "The wired network has been slow for days and keeps dropping."),
            ),
            (("已重新压接水晶头并测试。", "Re-terminated the connector and tested it."),
             ("交换机端口故障，已更换端口。", "The switch port had failed; moved to a new port.")),
            ("水晶头 ×2", "网络模块"),
            season={9: 1.8, 3: 1.4},
        ),
        CategorySpec(
            "furniture", "Furniture", "家具维修", Priority.LOW, 2, ("teaching_rooms", "office_rooms", "dorm_rooms"),
            True, "any",
            (
                ("课桌椅损坏", "第三排椅子坐板松动，坐上去摇晃。",
                 "Loose seat", "A seat in the third row is loose and wobbles."),
                ("办公椅轮子坏了", "办公椅的一个轮子掉了。", "Chair wheel broken", "A wheel came off my office chair."),
            ),
            (("已紧固座椅。", "Tightened the seat."), ("已更换椅轮。", "Replaced the wheel.")),
            ("螺丝 若干", "椅轮"),
        ),
    ),
}

# ---------------------------------------------------------------- texts

HOLD_TEXTS: dict[HoldReason, tuple[Text, ...]] = {
    HoldReason.WAITING_PARTS: (
        ("需更换配件，已申请采购，到货后安排维修。", "A part must be replaced; ordered, we come back when it arrives."),
        ("库存没有同型号配件，等待厂家发货。", "No matching part in stock; waiting for the supplier."),
    ),
    HoldReason.REQUESTER_UNAVAILABLE: (
        ("电话联系不上报修人，房间无人。", "Could not reach the requester by phone; nobody in the room."),
        ("报修人要求改到明天上午处理。", "The requester asked us to come tomorrow morning."),
    ),
    HoldReason.THIRD_PARTY: (
        ("需要设备厂家售后工程师处理，已联系。", "Needs the manufacturer's engineer; contacted."),
        ("需等待施工单位到场确认。", "Waiting for the contractor to inspect."),
    ),
    HoldReason.ACCESS_DENIED: (
        ("房间上锁，需宿管开门。", "The room is locked; waiting for the warden to open it."),
    ),
    HoldReason.SCHEDULED: (
        ("需在非上课时间施工，已约定周末处理。", "Must be done outside class hours; booked for the weekend."),
        ("需要高空作业车，已排期。", "Needs an aerial platform; scheduled."),
    ),
    HoldReason.OTHER: (
        ("需报学院审批后处理。", "Needs the school's approval first."),
        ("等待相关部门答复。", "Waiting for the other office's answer."),
    ),
}
RESUME_TEXTS: tuple[Text, ...] = (
    ("配件已到，继续处理。", "The part arrived; carrying on."),
    ("已约好时间，继续处理。", "Time agreed; carrying on."),
    ("", ""),
)
REOPEN_TEXTS: tuple[Text, ...] = (
    ("修好第二天又出现同样的问题。", "The same problem came back the next day."),
    ("问题没有解决，还是老样子。", "It is not fixed; nothing changed."),
    ("只修好了一半，另一处还是坏的。", "Only half of it was fixed; the other part is still broken."),
)
CONFIRM_TEXTS: tuple[Text, ...] = (
    ("", ""),
    ("", ""),
    ("", ""),
    ("师傅很负责，谢谢！", "Very helpful, thank you!"),
    ("处理很及时，点赞。", "Quick work, thanks."),
    ("已解决，谢谢。", "Fixed, thanks."),
)
REQUESTER_CANCEL_TEXTS: tuple[Text, ...] = (
    ("问题已自行解决。", "Sorted it out myself."),
    ("重复提交了，取消这一条。", "Filed twice; cancelling this one."),
    ("已找到其他解决办法。", "Found another way."),
)
STAFF_CANCEL_TEXTS: tuple[Text, ...] = (
    ("与另一条报修重复，已合并处理。", "Duplicate of another request; handled there."),
    ("不属于本中心业务，已引导至相应部门。", "Not this centre's business; sent to the right office."),
)
DECLINE_TEXTS: tuple[Text, ...] = (
    ("今天轮休，请改派。", "Off duty today, please reassign."),
    ("手头有紧急任务，无法及时处理，请改派。", "Busy with an emergency; please reassign."),
    ("需要专业资质人员处理，请改派。", "Needs a certified specialist; please reassign."),
)
# Appended to some descriptions, so a year of tickets does not read like a template.
DESCRIPTION_ENDINGS: tuple[Text, ...] = (
    ("麻烦尽快处理，谢谢！", "Please fix it soon, thanks!"),
    ("白天一般都有人在。", "Someone is usually there during the day."),
    ("已经影响到正常学习和工作了。", "It gets in the way of our work and study."),
    ("之前也反映过一次，还是没有解决。", "I reported this once before; it is still not solved."),
    ("附近几个房间好像也有同样的问题。", "The rooms nearby seem to have the same problem."),
    ("有问题可以打我电话。", "Call me if you need more details."),
)
REQUESTER_COMMENTS: tuple[Text, ...] = (
    ("请尽快处理，谢谢！", "Please deal with it soon, thank you!"),
    ("我下午三点以后都在，可以上门。", "I am in after 3 pm; come any time then."),
    ("请问大概什么时候能来？", "When can someone come, roughly?"),
    ("情况更严重了，麻烦加急。", "It is getting worse; please hurry."),
)
STAFF_COMMENTS: tuple[Text, ...] = (
    ("已电话联系报修人，约定明早九点上门。", "Phoned the requester; coming tomorrow at 9."),
    ("已到现场查看，需要进一步检测。", "Looked on site; needs more tests."),
    ("已安排，请保持电话畅通。", "Scheduled; please keep your phone on."),
)
DISPATCH_COMMENTS: tuple[Text, ...] = (
    ("已催促维修人员尽快处理。", "Asked the technician to hurry."),
    ("已与报修人核实情况。", "Checked the details with the requester."),
)
RAISE_TEXTS: tuple[Text, ...] = (
    ("影响整层楼使用，提升优先级。", "Affects the whole floor; raising the priority."),
    ("存在安全隐患，提升优先级。", "Safety risk; raising the priority."),
)
LOWER_TEXTS: tuple[Text, ...] = (
    ("非紧急问题，按正常流程处理。", "Not urgent; normal handling."),
    ("已有临时措施，降低优先级。", "A temporary fix is in place; lowering the priority."),
)

# ---------------------------------------------------------------- people

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵万钱覃武戴孔汤庞"
)
# Given names by generation: students born around 2005, staff earlier.
STUDENT_GIVEN = (
    "子涵", "宇轩", "欣怡", "梓涵", "浩宇", "诗琪", "佳琪", "雨欣", "博文", "嘉怡", "思彤", "俊熙", "晨阳",
    "一诺", "子轩", "雨桐", "若曦", "梓萱", "明哲", "浩然", "语嫣", "天佑", "思源", "佳豪", "可馨", "昊天",
    "奕辰", "静怡", "铭泽", "安琪", "睿", "萱", "航", "琳", "泽宇", "舒涵", "子墨", "景行",
)
STAFF_GIVEN = (
    "建国", "志刚", "国强", "卫东", "春梅", "秀兰", "德明", "永红", "建军", "海涛", "立新", "红梅", "丽华",
    "文斌", "晓燕", "建华", "玉兰", "振华", "国平", "海燕", "晓东", "伟", "芳", "敏", "静", "强", "磊",
    "军", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "辉", "斌",
)
# English-speaking international students (locale en).
INTERNATIONAL = (("student.en", "Emma Wilson"), ("david.en", "David Okafor"), ("sofia.en", "Sofia Rossi"))

# Fixed names for the showcase accounts, so a demo script can name them.
SHOWCASE_NAMES = {
    "student": "陈思远",
    "staff": "王丽华",
    "tech.repairs": "张建国",
    "dispatch.repairs": "刘海燕",
    "head.repairs": "赵志强",
    "leader": "周文博",
    "admin": "孙晓东",
}

# ---------------------------------------------------------------- password words

PASSWORD_WORDS = (
    "amber", "apple", "arrow", "aspen", "atlas", "bamboo", "basil", "beacon", "birch", "bison", "breeze",
    "brook", "cactus", "camel", "canyon", "cedar", "cherry", "cloud", "clover", "cobalt", "comet", "coral",
    "cotton", "crane", "creek", "delta", "desert", "dolphin", "dragon", "eagle", "ember", "falcon", "fern",
    "fig", "flint", "forest", "fox", "galaxy", "garden", "ginger", "glacier", "granite", "harbor", "hazel",
    "heron", "honey", "island", "ivory", "jade", "jasmine", "juniper", "kite", "lagoon", "lantern", "lemon",
    "lily", "linen", "lotus", "lunar", "magnet", "mango", "maple", "marble", "meadow", "melon", "mint",
    "monsoon", "moss", "nectar", "noodle", "oasis", "ocean", "olive", "orchid", "otter", "panda", "pebble",
    "pepper", "pine", "planet", "plum", "pollen", "poplar", "prairie", "quartz", "rabbit", "raven", "reef",
    "ripple", "river", "robin", "saffron", "sage", "salmon", "sequoia", "shadow", "silver", "sparrow",
    "spruce", "star", "stone", "summit", "swallow", "tangerine", "thistle", "thunder", "tiger", "timber",
    "topaz", "tulip", "valley", "velvet", "violet", "walnut", "willow", "winter", "wren", "yak", "zephyr",
)
