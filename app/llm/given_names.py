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

# Particles inside surnames ("von der Leyen", "van Dijk"): part of a name only between names.
PARTICLES = frozenset("von van der den de la le du da di del della dos das bin ibn al el ter ten zu y".split())
