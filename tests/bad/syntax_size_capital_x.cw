# expect: 2:21: unexpected '500X500'; an input size is written HxW, height x width with a lower-case x and no spaces: 500x500
network fcn8s input 500X500
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
compute s1 when 1
output fuse(s1)
