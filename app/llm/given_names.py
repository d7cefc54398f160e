"""A compact list of given names from many cultures, diacritics folded and lower-cased.

Why a list in the code and not a package: ``names-dataset`` ships hundreds of MB and
takes seconds to load; redaction needs only "is this capitalised word a given name?"
for the commonest names. Words that are also everyday English words (Will, May, Grace,
Mark) are left out on purpose: alone they are found only from context (greetings,
sign-offs, "my name is")."""

GIVEN_NAMES = frozenset("""
aaron abdul abdullah adam adrian ahmed ahmet aidan aiko aisha akira alan albert alberto alejandro
alessandro alex alexander alexandra alexei alfredo ali alice alicia alina alison amanda amelia amir
amit ana anastasia anders andre andrea andreas andrei andrew andrzej angela angelika anil anita anja
ann anna anne anneke annika anthony antoine anton antonio anya aoife arjun arnaud arthur asha astrid
aurelie ayesha barbara beatriz ben benjamin bernard bernd bettina bianca bjorn blanca boris brendan
brian bridget bruno camille carla carlos carmen carolina caroline catherine cecile celine chantal
charles charlotte chen chiara chloe christian christina christine christoph christopher ciaran claire
clara claudia colin connor cristina daniel daniela david deborah deepak denis dennis diana diego
dimitri dmitri dmitry dominik donal dorota edward eileen elena elif elisa elisabeth eliza elizabeth
ellen emil emily emma emre enrique eoin erik erika esther eva evgeny fabian fatima fatma federica
felipe felix fernando fiona florian francesca francesco francisco francois franz frederic freya
gabriel gabriela georg george georgios gerard gerhard giorgio giovanni giulia giuseppe gonzalo
greta gunnar gustavo hamid hana hannah hans harald harry hassan heidi heike helen helena helga
henrik henry hiroshi hugo ian ibrahim ignacio igor ilse ines ingrid irina isabel isabella isabelle
ivan jakob james jana jane janet jasmine javier jean jeanne jennifer jens jessica joachim joanna
joao johan johann johanna john jonas jonathan jorge jose josef joseph juan julia julian julie
julien jurgen kai karen karin karl karolina kasia katarzyna kate katharina katherine kathrin
kazuki kenji kerstin kevin khalid kim klaus krishna kristina krzysztof kumar lars laura lauren
laurent lea leila lena leon leonardo li liam lina linda lisa liu lorenzo louis louise lucas lucia
luis luka lukas magdalena maja malik manuel marco marcus margaret margarita maria mariana marie
marina mario marion marta martin martina mary mateo mathias matteo matthew matthias maximilian
mehmet mei melanie mia michael michel michelle miguel mikhail milan ming miriam mohamed mohammed
monika muhammad nadia naoko natalia natalie nathalie niamh nicola nicolas niels nikolai nina noah
noor nora oksana olga oliver olivia omar oscar oskar pablo patricia patrick paul paula pavel pedro
peter petra philipp philippe pierre piotr pooja priya rafael rahul raj rajesh ramon raphael rebecca
renate ricardo richard robert roberto rodrigo roman rosa ruth ryan saanvi sabine sakura samuel
sandra sanjay sara sarah sean sebastian sergei sergey shanti shreya silvia simon simone siobhan
sofia sophia sophie stefan stefanie stephanie steven susanne sven svetlana takeshi tanja tatiana
thomas tiago timo tobias tomas tomasz ursula valentina vanessa vera veronica victor viktor vincent
vladimir wei william wojciech xavier yan yasmin yuki yuri yusuf zainab zoe zofia
""".split())

# More cultures (added for issue 18, from common-name lists per region as commonly published by
# national statistics offices; folded, lower-cased; everyday English words left out).
GIVEN_NAMES = GIVEN_NAMES | frozenset("""
abebe abena abimbola abiodun adaeze adebayo adenike adeola adewale adwoa afia akosua akua ama
amaka amara amina aminata ayodele babajide bola bongani busisiwe chiamaka chidinma chiamanda chika
chinedu chinonso chinwe chioma chukwudi emeka ifeoma ike ikechukwu kelechi kofi kwabena kwaku kwesi
lindiwe lerato mandla musa nkosi nomvula nokuthula nonhlanhla obinna ogechi olamide olumide
olusegun oluwadamilare oluwatobi sibusiso sipho thabo themba thandeka tunde uchenna yaw yetunde
zanele zodwa zola
abdel abdelaziz abdallah abdulrahman abir adel ahlam aicha amal amani amr anas asma ayman bilal
dalia farid fatimah fouad ghada habib hadi hala hamza hanan hani hatem hussein imad imane iman jamal
jamila karim khadija khaled laila latifa lina majid malak marwan maryam mahmoud mona mostafa mounir
mustafa nabil nadia naima nasser nour omar rachid rana rania rashid reem salma sami samir sana
souad tarek tariq walid yasmine youssef yousef zaid zakaria zeinab
ali reza arash babak bahram behnaz darius dariush farhad farzana golnar hossein kamran kaveh laleh
mahnaz mehdi mehrdad mina mitra nasrin nazanin parisa parviz payam roya shirin soheila yasaman
aarav aditi aditya akash akshay amitabh ananya anjali anupam arnav aryan bhavna chetan deepa deepika
devendra dinesh divya gaurav geeta harish ishaan jaya karan kavita kiran lakshmi madhav manish meera
mohan nandini neha nikhil nisha pankaj pradeep pranav prakash prateek priyanka radha rajiv ramesh
ravi rekha rohan rohit sachin sanjana santosh shalini shivani shubham sneha sunil sunita suresh
swati tanvi uday varun vijay vikram vinod vishal yash zoya arun
aamir asif ayesha faisal farhan hamid hina imran irfan junaid kashif nadeem naveed rizwan saima
sajid shahid shazia tahir usman waqas zubair
anh bao binh chau cuong duc giang hai hanh hieu hoa hoang hong huong huy khanh khoa lan
linh mai minh nam ngoc nguyet nhung phuc phuong quang quoc tam thanh thao thi thu thuy
tien trang trinh trung tuan tuyet vinh
chang chao fang feng guo hao hong hui jia jian jie jin jing lei li lian lin ling mei
ning qiang qing rui shan shu tao ting wen xia xiao xin xiu yang yi ying yong yu yun zhen zhi
aiko akemi asuka ayaka ayumi chiyo daichi daisuke emi eri hana haruka haruki haruto hikari hina
hinata hiro hiroki hiroko hitomi kaito kana kaori kazuo keiko ken kenta koji kumiko mai mao
masaki masato mayu megumi miho miki minoru misaki mitsuki miyu momoka naoki naomi nanami noriko
reina ren riko rina ryo ryota saki sayaka shinji shota sora souta taichi takashi takumi taro tomoko
tsubasa yoko yoshiro yui yuka yuko yuma yuna yusuke yuta
bora chaeyoung daeho dong-hyun eun-ji eunji haneul hye-jin hyejin hyun-woo hyunwoo jae-hyun jaehyun
ji-ho jiho ji-hoon jihoon ji-min jimin ji-woo jiwoo ji-yeon jiyeon jin-woo jinwoo joon-ho junho
min-jun minjun min-seo minseo seo-yeon seoyeon seung-hyun so-yeon soo-jin soojin sung-min yeon-woo
young-ho yuna
aroha hemi kahu manaia nikau rangi tama tane wiremu kai kalani kawika keanu keola leilani
lokelani makana malia noelani ikaika sione siosaia mele losana tevita viliami
agnieszka aleksandra alicja anita barbara bartosz beata dominika ewa grzegorz jacek jakub
janusz joanna julia kamil kinga krystyna lukasz maciej malgorzata marcin marek mariusz michal
monika natalia pawel rafal slawomir sylwia tomasz urszula zbigniew
aleksandar aleksei alena alyona anatoly andrey arkady bogdan boris dariya denis dmitry dragan
ekaterina galina goran igor ilya ivana jelena katya kirill ksenia larisa lyudmila marija maxim milena
milos miroslav nadezhda natasha nikola nikolay oleg olena oleksandr polina roman ruslan sasha
snezana stanislav stefan svetlana taras tatyana vadim valentin valeria vasily vesna viktoriya
vladislav yaroslav yelena yevgeny yulia zoran zeljko
adrienn agnes andras anna attila balazs csaba dora eszter gabor gergely istvan janos judit katalin
krisztina laszlo matyas peter reka szabolcs tamas zoltan zsofia zsolt
alexandru andreea bianca catalin cristian dragos elena florin gabriela ioana ionut iulia mihai
mirela oana radu raluca sorin stefania vlad
aikaterini christos dimitra dimitris eleni georgia giorgos ioannis konstantinos kostas maria nikos
panagiotis sofia stavros theodora vasilis yiannis
aino eero elina emilia hanna heikki juha jukka kaisa kalle katja lauri leena matti mikko niina onni
pekka pirjo riikka sanna satu tapio tuomas veera ville
anders arne astrid birgit bjorn elin erik frida gunhild hakon ingrid inger jon kari kjell knut lars
linnea magnus marit nils ole pernille ragnhild sigrid sindre solveig stine terje thor tove trond
turid ulf ylva
agustin alejandra alvaro andres beatriz camila catalina consuelo daniela dolores eduardo elena
emilio esperanza esteban fernanda gabriela gloria guadalupe guillermo hector inmaculada joaquin
jimena leticia lorena lucia luz marisol mercedes milagros nicolas pilar raul rocio rodrigo santiago
soledad valeria ximena
afonso antonio bruna caio conceicao diogo fabio fernanda gabriel goncalo henrique joana joao
larissa leonor luana marcelo mateus matheus rafaela renata rodrigo thiago vitoria
aurelien baptiste benoit clement coralie elodie etienne fabrice gaelle guillaume helene jeremie
lucie maelle manon margaux mathilde maxime nathan oceane quentin romain solene sylvain thibault
yann
anouk bram daan femke jeroen joost lieke luuk maarten niek noor pieter rutger sanne sem
thijs wouter
ahmet aylin ayse burak cem deniz ebru ecem elif emine emre fatih hakan hulya kemal leyla melike
merve murat mustafa ozan ozge selin serkan tolga yusuf zehra zeynep
aisulu aizhan askar azamat bakhyt dilnoza gulnara jasur nodira nurlan rustam sanjar timur zarina
aoife caoimhe ciara ciaran cormac declan eamon fionn grainne niall oisin padraig roisin saoirse
seamus sinead
dafydd eleri gwen rhys siân sian
ariel chaim dov eitan ilan lior moshe noa shira yael yosef
""".split())

# Particles inside surnames ("von der Leyen", "van Dijk"): part of a name only between names.
PARTICLES = frozenset("""von van der den de la le du da di del della dos das bin ibn al el ter ten zu y
o ni nic ui mac bint abu ben""".split())
