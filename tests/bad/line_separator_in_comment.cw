# expect: 5:17: undefined clock 'nope'
network fcn8s  # a comment with a line separator   and a next-line  in it
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
# form feed  vertical tab  paragraph separator  : all inside one line
compute s1 when nope
output fuse(s1)
